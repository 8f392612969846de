"""Safe builds: nothing from outside the project gets into a zip, hidden files stay out, data
files an action includes get in, and a zip that cannot load fails the build, not an activation."""

from __future__ import annotations

import os
import pathlib

import pytest

import deploy as cli
from tests.deploy_support import HELLO_ENV, HELLO_MANIFEST, make_project, zip_names
from tools.manifest import load_manifest
from tools.runtimes.python.build import build_zips
from tools.runtimes.python.sources import BuildError

ENV_SECRET = "the-dotenv-secret-0123456789"


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    root = tmp_path / "project"
    make_project(root)
    (root / ".env").write_text(f"SECRET_KEY={ENV_SECRET}\n")
    monkeypatch.chdir(root)
    return root


def build(project: pathlib.Path) -> list[str]:
    zipped = build_zips(load_manifest(project / "manifest.yaml", HELLO_ENV))[0]
    return zip_names(zipped.data)


def build_cli(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(["build", "--out", "out"])
    out, err = capsys.readouterr()
    assert ENV_SECRET not in out + err
    return status, err


def test_a_link_to_a_file_outside_the_project_is_refused_by_name(
        project: pathlib.Path, tmp_path: pathlib.Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "secrets.env"
    outside.write_text(f"SECRET_KEY={ENV_SECRET}\n")
    (project / "lib" / "config.py").symlink_to(outside)

    status, err = build_cli(capsys)

    assert status == 1
    assert "lib/config.py leads out of the project folder" in err
    assert not (project / "out").exists()


def test_a_link_to_the_project_s_own_env_file_is_refused_too(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "lib" / "config.py").symlink_to(project / ".env")

    status, err = build_cli(capsys)

    assert status == 1
    assert "lib/config.py is a link to .env, hidden (.env)" in err


def test_a_linked_folder_that_leads_out_of_the_project_is_refused(
        project: pathlib.Path, tmp_path: pathlib.Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "helpers.py").write_text("X = 1\n")
    (project / "lib" / "borrowed").symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(BuildError, match=r"lib/borrowed leads out of the project"):
        build(project)


def test_a_link_inside_the_project_is_fine(project: pathlib.Path) -> None:
    (project / "lib" / "alias.py").symlink_to(project / "lib" / "util.py")
    assert "lib/alias.py" in build(project)


def test_a_function_outside_the_project_is_refused(project: pathlib.Path,
                                                   tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def main(params):\n    return {}\n")
    (project / "manifest.yaml").write_text(
        HELLO_MANIFEST.replace("function: actions/hello", "function: ../outside.py"))

    with pytest.raises(BuildError, match=r"its function .*outside\.py is outside the project"):
        build(project)


def test_hidden_files_and_folders_stay_out(project: pathlib.Path) -> None:
    (project / "actions" / "hello" / ".scratch.py").write_text("KEY = 'x'\n")
    (project / "lib" / ".local").mkdir()
    (project / "lib" / ".local" / "settings.py").write_text("KEY = 'x'\n")

    names = build(project)

    assert not [name for name in names if "/." in name or name.startswith(".")]


def test_included_data_files_get_in_and_links_out_do_not(project: pathlib.Path,
                                                         tmp_path: pathlib.Path) -> None:
    (project / "actions" / "hello" / "data").mkdir()
    (project / "actions" / "hello" / "data" / "rates.json").write_text("{}")
    (project / "manifest.yaml").write_text(HELLO_MANIFEST.replace(
        "        runtime: python:3.11\n",
        "        runtime: python:3.11\n        include:\n"
        "          - [\"actions/hello/data/*.json\", \"data/\"]\n", 1))
    assert "data/rates.json" in build(project)

    outside = tmp_path / "private.json"
    outside.write_text("{}")
    os.symlink(outside, project / "actions" / "hello" / "data" / "zz-link.json")
    with pytest.raises(BuildError, match=r"zz-link\.json leads out of the project folder"):
        build(project)


def test_a_zip_that_cannot_load_fails_the_build(project: pathlib.Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "lib" / "util.py").unlink()  # the action imports lib.util

    status, err = build_cli(capsys)

    assert status == 1
    assert "demo/hello: the zip does not load as the runtime loads it" in err
    assert "No module named 'lib.util'" in err


def test_a_main_the_module_lacks_fails_the_build(project: pathlib.Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (project / "manifest.yaml").write_text(
        HELLO_MANIFEST.replace("runtime: python:3.11", "runtime: python:3.11\n        main: nope",
                               1))
    status, err = build_cli(capsys)
    assert status == 1
    assert "the zip's __main__.py has no function nope()" in err or "cannot import name" in err
