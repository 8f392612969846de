"""One project source for every command: the files a project reads, watched alike by
``deploy.py watch`` and ``--serve --watch`` ($include'd configs and every file of an action
included), and the env file rules of the command line."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.deploy_support import FIXTURES
from tools.deploy.watch import ProjectFiles
from tools.errors import ManifestError
from tools.local.client import LocalClient
from tools.local.reload import FileWatcher, ReloadingWebActions
from tools.project import ProjectSource

APP = FIXTURES / "app_builder_project"


@pytest.fixture
def app(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "app"
    shutil.copytree(APP, root)
    (root / ".env").write_text("REGION=eu\nWORKER_API_KEY=k\n")
    return root


def test_the_source_knows_the_included_files_and_each_actions_files(app: pathlib.Path) -> None:
    source = ProjectSource(app / "app.config.yaml", app / ".env")
    manifest = source.load()
    roots = source.roots(manifest)
    assert app / "src" / "excshell" / "ext.config.yaml" in roots
    assert app / "package.json" in roots
    assert app / ".env" in roots
    files = source.watched_files(manifest)
    assert app / "data" / "a.txt" in files  # an action's include
    assert app / "src" / "excshell" / "actions" / "report.py" in files
    assert app / "data" / "ignored.json" not in files  # matches no include


def test_before_a_manifest_loads_the_manifest_and_env_are_watched(tmp_path: pathlib.Path
                                                                 ) -> None:
    source = ProjectSource(tmp_path / "manifest.yaml", tmp_path / ".env")
    assert source.roots(None) == [tmp_path / "manifest.yaml", tmp_path / ".env"]


def test_an_env_file_named_on_the_command_line_must_exist(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=r"--env-file .*missing\.env: no such file"):
        ProjectSource.from_flags(tmp_path / "m.yaml", tmp_path / "missing.env").env()
    # Without --env-file, a missing .env is fine: the shell's variables stand.
    assert isinstance(ProjectSource.from_flags(tmp_path / "m.yaml", None).env(), dict)


def test_both_watchers_watch_the_same_files(app: pathlib.Path) -> None:
    source = ProjectSource(app / "app.config.yaml", app / ".env")
    deploy_side = ProjectFiles(source)
    deploy_side.learn(source.load())
    with LocalClient(app / "app.config.yaml", app / ".env") as client:
        local_side = ReloadingWebActions(client).files()
    assert set(deploy_side.snapshot()) <= {str(path) for path in local_side}
    assert app / "src" / "excshell" / "ext.config.yaml" in local_side
    assert app / "data" / "b.txt" in local_side  # not Python, but in the zip


def test_serve_watch_reloads_on_an_edit_to_an_included_config(app: pathlib.Path) -> None:
    included = app / "src" / "excshell" / "ext.config.yaml"
    with LocalClient(app / "app.config.yaml", app / ".env") as client:
        reloading = ReloadingWebActions(client)
        watcher = FileWatcher(reloading.files, reloading.reload)
        watcher.poll()  # the first look sees every file
        before = reloading.generation
        assert watcher.poll() == []
        text = included.read_text()
        included.write_text(text + "\n# an edit\n")
        assert included in watcher.poll()
        assert reloading.generation == before + 1
        data = app / "data" / "a.txt"
        data.write_text("a new asset, longer than before\n")
        assert data in watcher.poll()
        assert reloading.generation == before + 2
