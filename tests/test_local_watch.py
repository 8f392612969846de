"""``--serve --watch``: a save of the action, the manifest or .env reloads the served actions on
the same port; an import error answers 500 until the next good save. Real files, real HTTP."""

from __future__ import annotations

import io
import os
import pathlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.local_support import Project, temporary_project
from tools.local import cli as local_cli
from tools.local.cli import main
from tools.local.client import LocalClient
from tools.local.reload import FileWatcher, ReloadingWebActions, project_modules, snapshot
from tools.local.server import WebActionServer

BOUND_SECONDS = 10  # generous: a reload is expected within about a second

SOLO = '''
import time


def main(params):
    time.sleep(float(params.get("sleep", 0)))
    return {{"statusCode": 200, "body": {{"version": {version}, "params": params}}}}
'''


@pytest.fixture
def project(tmp_path, monkeypatch) -> Iterator[Project]:
    monkeypatch.delenv("AIO_RUNTIME_NAMESPACE", raising=False)
    yield from temporary_project(tmp_path, monkeypatch)


class Watched:
    """A served project with its watcher; ``stderr`` holds what the reloads printed."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.stderr = io.StringIO()
        self.client = LocalClient(project.manifest_path, project.env_file)
        self.http = requests.Session()
        self.http.trust_env = False

    def __enter__(self) -> Watched:
        self.client.__enter__()
        self.actions = ReloadingWebActions(self.client, stderr=self.stderr)
        self.server = WebActionServer([], "", port=0, web_actions=self.actions).start()
        self.watcher = FileWatcher(self.actions.files, self.actions.reload).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.watcher.stop()
        self.server.stop()
        self.client.__exit__(*exc_info)
        self.http.close()

    def get(self, action: str = "solo", **params: Any) -> requests.Response:
        return self.http.get(f"{self.server.url}/api/v1/web/guest/demo/{action}",
                             params=params, timeout=BOUND_SECONDS)

    def until(self, accept: Callable[[requests.Response], bool], **params: Any
              ) -> requests.Response:
        """Ask until an answer is accepted, within a bound; that answer."""
        deadline = time.monotonic() + BOUND_SECONDS
        while True:
            answer = self.get(**params)
            if accept(answer) or time.monotonic() > deadline:
                return answer
            time.sleep(0.05)


@pytest.fixture
def watched(project) -> Iterator[Watched]:
    write(project, "solo.py", SOLO.format(version=1))
    with Watched(project) as running:
        yield running


def write(project: Project, name: str, text: str) -> None:
    """A save as an editor makes it, whole at once: a request between a truncation and the
    write would import an empty module and answer a 500 of its own."""
    path = project.root / project.package / name
    draft = path.with_name(f".{name}.saving")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)


def version(answer: requests.Response) -> Any:
    return answer.json().get("version") if answer.status_code == 200 else None


def test_a_code_change_is_served_on_the_same_port(watched):
    url = watched.server.url
    assert version(watched.get()) == 1
    write(watched.project, "solo.py", SOLO.format(version=2))
    assert version(watched.until(lambda a: version(a) == 2)) == 2
    assert watched.server.url == url
    assert "reloaded" in watched.stderr.getvalue()


def test_a_syntax_error_answers_500_until_the_next_good_save(watched):
    write(watched.project, "solo.py", "def main(params):\n    return {\n")
    answer = watched.until(lambda a: a.status_code == 500)
    assert answer.status_code == 500
    body = answer.json()
    assert "SyntaxError" in body["error"]
    assert "solo" in body["error"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["code"])
    deadline = time.monotonic() + BOUND_SECONDS  # the watcher's reload, not just this import
    while "reload failed" not in watched.stderr.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watched.get("echo").status_code == 500  # every web request, while it lasts
    time.sleep(0.6)  # more polls: the error is printed once per save, not once per poll
    failures = [line for line in watched.stderr.getvalue().splitlines()
                if line.startswith("reload failed")]
    assert len(failures) == 1
    assert "SyntaxError" in failures[0]

    write(watched.project, "solo.py", SOLO.format(version=3))
    assert version(watched.until(lambda a: a.status_code == 200)) == 3
    assert watched.get("echo").status_code == 200


def test_an_import_error_names_the_missing_module(watched):
    write(watched.project, "solo.py", "import not_installed_anywhere\n" + SOLO.format(version=4))
    answer = watched.until(lambda a: a.status_code == 500)
    assert answer.status_code == 500
    assert "not_installed_anywhere" in answer.json()["error"]
    write(watched.project, "solo.py", SOLO.format(version=5))
    assert version(watched.until(lambda a: a.status_code == 200)) == 5


def test_a_module_beside_the_action_is_reloaded_too(watched):
    write(watched.project, "helper.py", "VALUE = 'first'\n")
    write(watched.project, "solo.py", "from . import helper\n\n\n"
                                      "def main(params):\n    return {'body': helper.VALUE}\n")
    assert watched.until(lambda a: a.text == "first").text == "first"
    write(watched.project, "helper.py", "VALUE = 'second'\n")
    assert watched.until(lambda a: a.text == "second").text == "second"


def test_a_changed_manifest_input_applies(watched):
    assert watched.get().json()["params"]["DEFINED"] == "deployed"
    manifest = watched.project.manifest_path
    text = manifest.read_text(encoding="utf-8")
    solo = text.index("      solo:")
    manifest.write_text(text[:solo] + text[solo:].replace("DEFINED: deployed", "DEFINED: changed"),
                        encoding="utf-8")
    answer = watched.until(lambda a: a.json()["params"]["DEFINED"] == "changed")
    assert answer.json()["params"]["DEFINED"] == "changed"


def test_a_manifest_error_answers_500_until_fixed(watched):
    manifest = watched.project.manifest_path
    good = manifest.read_text(encoding="utf-8")
    manifest.write_text(good.replace("$LOCAL_TEST_VAR", "$UNSET_IN_THIS_TEST", 1),
                        encoding="utf-8")
    answer = watched.until(lambda a: a.status_code == 500)
    assert "UNSET_IN_THIS_TEST" in answer.json()["error"]
    manifest.write_text(good, encoding="utf-8")
    assert watched.until(lambda a: a.status_code == 200).status_code == 200


def test_a_changed_env_file_applies(watched):
    assert watched.get().json()["params"]["FROM_ENV"] == "from-env-file"
    env = watched.project.env_file
    env.write_text(env.read_text(encoding="utf-8").replace("from-env-file", "edited-env"),
                   encoding="utf-8")
    answer = watched.until(lambda a: a.json()["params"]["FROM_ENV"] == "edited-env")
    assert answer.json()["params"]["FROM_ENV"] == "edited-env"


def test_a_request_in_flight_finishes_on_the_old_code(watched):
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(watched.get, sleep="1")
        time.sleep(0.3)  # the slow request holds the actions now
        write(watched.project, "solo.py", SOLO.format(version=6))
        assert version(slow.result()) == 1
    assert version(watched.until(lambda a: version(a) == 6)) == 6


def test_no_thread_is_left_after_stop(project):
    write(project, "solo.py", SOLO.format(version=1))
    before = set(threading.enumerate())
    with Watched(project) as running:
        assert running.get().status_code == 200
    time.sleep(0.1)
    assert set(threading.enumerate()) - before == set()


def test_the_watcher_stops_promptly_on_its_event(tmp_path):
    calls: list[list[pathlib.Path]] = []
    target = tmp_path / "watched.py"
    target.write_text("a = 1\n")
    watcher = FileWatcher(lambda: [target], calls.append, interval=0.05).start()
    target.write_text("a = 22\n")
    deadline = time.monotonic() + BOUND_SECONDS
    while not calls and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < BOUND_SECONDS
    assert calls == [[target]]
    assert not any(thread.name == "FileWatcher" for thread in threading.enumerate())


def test_only_modules_under_the_project_folders_are_dropped():
    import lib.log  # noqa: F401  (a lib module, surely imported)

    names = project_modules([pathlib.Path(__file__).resolve().parents[1] / "lib"], [])
    assert "lib.log" in names
    assert "lib.redact" not in names  # the secret registry the tools share
    for kept in ("json", "requests", "tools.local.cli", "__main__", "pytest"):
        assert kept not in names
    assert all(name == "lib" or name.startswith("lib.") for name in names)
    assert sys.modules["lib.log"] is not None


# --- the command line --------------------------------------------------------------------------

def test_watch_without_serve_is_a_usage_error(project, capsys, monkeypatch):
    monkeypatch.chdir(project.root)
    with pytest.raises(SystemExit) as exited:
        main(project.solo_module, ["--watch"])
    assert exited.value.code == 2
    assert "--watch goes with --serve" in capsys.readouterr().err


def test_serve_watch_reloads_a_saved_action(project, capsys, monkeypatch):
    monkeypatch.chdir(project.root)
    write(project, "solo.py", SOLO.format(version=1))
    answers = []

    def use_the_server() -> None:
        err = capsys.readouterr().err
        assert "Watching" in err
        url = re.search(r"http://\S+/api/v1/web/guest/demo/solo", err)
        assert url is not None
        with requests.Session() as http:
            http.trust_env = False
            answers.append(http.get(url.group(0), timeout=10))
            write(project, "solo.py", SOLO.format(version=2))
            deadline = time.monotonic() + BOUND_SECONDS
            while version(answers[-1]) != 2 and time.monotonic() < deadline:
                time.sleep(0.05)
                answers.append(http.get(url.group(0), timeout=10))

    monkeypatch.setattr(local_cli, "wait_until_interrupted", use_the_server)
    assert main(project.solo_module, ["--serve", "--watch", "--port", "0"]) == 0
    assert version(answers[0]) == 1
    assert version(answers[-1]) == 2
    assert not any(thread.name == "FileWatcher" for thread in threading.enumerate())


# --- saves that exit, and files that are no sources -----------------------------------------------

@pytest.mark.parametrize(("source", "named"), [
    ("raise SystemExit(3)\n", "SystemExit: 3"),
    ("exit()\n", "SystemExit"),
    ("import argparse\nargparse.ArgumentParser(prog='solo').parse_args(['--nope'])\n",
     "SystemExit: 2"),
])
def test_a_module_that_exits_at_import_answers_500_and_the_watcher_goes_on(
        watched, source, named, capsys):
    write(watched.project, "solo.py", source + SOLO.format(version=7))
    answer = watched.until(lambda a: a.status_code == 500)
    assert answer.status_code == 500
    assert answer.json()["error"] == f"cannot import {watched.project.solo_module}: {named}"
    deadline = time.monotonic() + BOUND_SECONDS
    while "reload failed" not in watched.stderr.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (f"reload failed: cannot import {watched.project.solo_module}: {named}\n"
            in watched.stderr.getvalue())

    write(watched.project, "solo.py", SOLO.format(version=8))  # the watcher still runs
    assert version(watched.until(lambda a: version(a) == 8)) == 8
    assert any(thread.name == "FileWatcher" for thread in threading.enumerate())


def test_the_watcher_outlives_a_callback_that_exits(tmp_path, capsys):
    target = tmp_path / "watched.py"
    target.write_text("a = 1\n")
    calls: list[list[pathlib.Path]] = []

    def exits_once(changed: list[pathlib.Path]) -> None:
        calls.append(changed)
        if len(calls) == 1:
            raise SystemExit("a stray exit in a reload")

    watcher = FileWatcher(lambda: [target], exits_once, interval=0.05).start()
    try:
        for text in ("a = 22\n", "a = 333\n"):
            seen = len(calls)
            target.write_text(text)
            deadline = time.monotonic() + BOUND_SECONDS
            while len(calls) == seen and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        watcher.stop()
    assert len(calls) == 2
    assert "watch: SystemExit: a stray exit in a reload\n" in capsys.readouterr().err


def test_only_regular_files_are_watched(tmp_path):
    regular = tmp_path / "action.py"
    regular.write_text("a = 1\n")
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    device = tmp_path / "zero.py"
    device.symlink_to("/dev/zero")
    linked = tmp_path / "linked.py"
    linked.symlink_to(regular)

    assert set(snapshot([regular, fifo, device, linked, tmp_path])) == {regular, linked}
