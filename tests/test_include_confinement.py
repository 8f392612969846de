"""App Builder's ``$include`` stays in the project once its links are followed, and reads only
regular files, capped: any YAML or JSON file of the machine would otherwise become deployed
inputs, and a FIFO or ``/dev/zero`` would hang or exhaust the tools. Real files in temporary
projects; every read goes through the command line too."""

from __future__ import annotations

import os
import pathlib
import threading
from collections.abc import Callable

import pytest

import deploy as deploy_cli
from tools.manifest import ManifestError, load_manifest
from tools.textfile import MAX_TEXT_FILE_BYTES, read_text

ACTIONS = ("runtimeManifest:\n  packages:\n    app:\n      actions:\n        hello:\n"
           "          function: actions/hello.py\n          runtime: 'python:3.11'\n"
           "          inputs:\n            $include: {include}\n")
OUTSIDE = "STOLEN: the content of a file outside the project\n"
WAIT_SECONDS = 30  # a read that blocks on a FIFO would never end: the test gives up by then


@pytest.fixture
def layout(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """(project, outside): a project folder and, beside it, a folder holding a YAML secret."""
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "actions").mkdir(parents=True)
    (project / "actions" / "hello.py").write_text("def main(params):\n    return {}\n")
    outside.mkdir()
    (outside / "secret.yaml").write_text(OUTSIDE)
    return project, outside


def app_config(project: pathlib.Path, include: str) -> pathlib.Path:
    path = project / "app.config.yaml"
    path.write_text("application:\n  " + ACTIONS.format(include=include).replace("\n", "\n  "))
    return path


def refused(path: pathlib.Path) -> str:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, {})
    assert "STOLEN" not in str(caught.value)
    return str(caught.value)


def test_dot_dot_leads_out(layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    project, outside = layout
    message = refused(app_config(project, "../outside/secret.yaml"))
    assert message == (
        f"{project / 'app.config.yaml'}: application.runtimeManifest.packages.app.actions.hello"
        f".inputs.$include: '../outside/secret.yaml' leads out of the project folder "
        f"{project} (to {outside / 'secret.yaml'}); an include must stay inside it")


def test_an_absolute_path_leads_out(layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    project, outside = layout
    assert "leads out of the project folder" in refused(
        app_config(project, str(outside / "secret.yaml")))


@pytest.mark.parametrize("linked", ["conf.yaml", "conf"])
def test_a_link_that_leads_out_is_refused_after_it_is_followed(
        layout: tuple[pathlib.Path, pathlib.Path], linked: str) -> None:
    project, outside = layout
    if linked == "conf":  # a linked folder on the way
        (project / "conf").symlink_to(outside, target_is_directory=True)
        include = "conf/secret.yaml"
    else:
        (project / "conf.yaml").symlink_to(outside / "secret.yaml")
        include = "conf.yaml"
    assert f"'{include}' leads out of the project folder" in refused(app_config(project, include))


def test_a_nested_include_cannot_leave_either(layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    project, _ = layout
    (project / "src").mkdir()
    (project / "src" / "inputs.yaml").write_text("$include: ../../outside/secret.yaml\n")
    message = refused(app_config(project, "src/inputs.yaml"))
    assert "inputs.$include: '../../outside/secret.yaml' leads out" in message


def test_an_include_inside_the_project_through_a_link_loads(
        layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    project, _ = layout
    (project / "shared").mkdir()
    (project / "shared" / "inputs.yaml").write_text("REGION: eu\n")
    (project / "inputs.yaml").symlink_to(project / "shared" / "inputs.yaml")
    manifest = load_manifest(app_config(project, "inputs.yaml"), {})
    assert manifest.actions()[0].inputs == {"REGION": "eu"}


def test_the_command_line_exits_2_without_the_content(
        layout: tuple[pathlib.Path, pathlib.Path], capsys: pytest.CaptureFixture[str]) -> None:
    project, _ = layout
    path = app_config(project, "../outside/secret.yaml")
    (project / ".env").write_text("")
    assert deploy_cli.main(["render", "--manifest", str(path), "--env-file",
                            str(project / ".env")]) == 2
    captured = capsys.readouterr()
    assert "leads out of the project folder" in captured.err
    assert "STOLEN" not in captured.out + captured.err
    assert "Traceback" not in captured.err


# --- only regular files, capped ------------------------------------------------------------

def without_hanging(read: Callable[[], object]) -> object:
    """``read()`` in a thread: what it returned or raised; a failure when it did not end in
    time (a FIFO opened for reading waits for a writer that never comes)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(read())
        except Exception as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT_SECONDS)
    if thread.is_alive():
        pytest.fail("the read blocked")
    return outcome[0]


@pytest.mark.parametrize("kind", ["fifo", "folder"])  # a device is outside: see above
def test_an_include_that_is_no_regular_file_is_refused_without_blocking(
        layout: tuple[pathlib.Path, pathlib.Path], kind: str) -> None:
    project, _ = layout
    special = project / "inputs.yaml"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        special.mkdir()
    path = app_config(project, "inputs.yaml")
    raised = without_hanging(lambda: load_manifest(path, {}))
    assert isinstance(raised, ManifestError)
    assert "inputs.yaml: cannot read: not a regular file (a folder, a FIFO or a device)" in str(
        raised)


def test_an_include_over_the_cap_is_refused(layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    project, _ = layout
    (project / "inputs.yaml").write_text("# padding\n" * (MAX_TEXT_FILE_BYTES // 10 + 1))
    message = refused(app_config(project, "inputs.yaml"))
    assert f"larger than {MAX_TEXT_FILE_BYTES} bytes; not read" in message


@pytest.mark.parametrize("name", ["manifest.yaml", ".env"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_manifest_or_env_file_that_is_no_regular_file_is_refused_too(
        tmp_path: pathlib.Path, name: str, kind: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default .env: --env-file must name a regular file
    manifest, env_file = tmp_path / "manifest.yaml", tmp_path / ".env"
    (tmp_path / "hello.py").write_text("def main(params):\n    return {}\n")
    manifest.write_text("packages:\n  demo:\n    actions:\n      hello:\n"
                        "        function: hello.py\n        runtime: python:3.11\n")
    env_file.write_text("")
    (tmp_path / name).unlink()
    if kind == "fifo":
        os.mkfifo(tmp_path / name)
    else:
        (tmp_path / name).symlink_to("/dev/zero")
    status = without_hanging(lambda: deploy_cli.main(["render", "--manifest", str(manifest)]))
    assert status == 2
    assert f"{name}: cannot read: not a regular file" in capsys.readouterr().err


def test_read_text_reads_a_regular_file_through_a_link(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_text("text é")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    assert read_text(tmp_path / "link.txt", ManifestError) == "text é"
