"""What a hostile or broken controller, or another project, can do to a deploy (hardening round
three): control characters in what it answers, lists that never end, malformed records, an
entity another project owns; and what a dry run or ``list`` must not do (run project code)."""

from __future__ import annotations

import io
import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import deploy as cli
from bench.tool_faults.hostile_controller import Route, ScriptedController
from tests.deploy_support import HELLO_ENV, alarm_project, deploy_cli
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn, Run
from tools.deploy import activations, client, watch
from tools.deploy.client import Client, Entity, OpenWhiskError
from tools.deploy.credentials import Credentials
from tools.deploy.operations import Options
from tools.project import ProjectSource
from tools.terminal import escape_controls

KEY = AUTH.partition(":")[2]
SECRET = HELLO_ENV["API_SECRET"]
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x9b31m\r"


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    monkeypatch.setattr(activations, "sleep", lambda _seconds: None)
    return alarm_project(tmp_path, monkeypatch, ow.env())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    return deploy_cli(capsys, *argv)


# --- a controller of our own making, for answers the stand-in would never give -----------------

@pytest.fixture
def controller() -> Iterator[Callable[[Route], ScriptedController]]:
    started: list[ScriptedController] = []

    def start(route: Route) -> ScriptedController:
        found = ScriptedController(route).__enter__()
        started.append(found)
        return found

    yield start
    for found in started:
        found.__exit__(None, None, None)


def _client(found: ScriptedController) -> Client:
    return Client(Credentials(found.url, AUTH, "ns", "test"))


# --- 1. the server talks to the developer's terminal -------------------------------------------

def test_control_characters_are_escaped_and_tab_and_newline_kept() -> None:
    assert escape_controls("a\x1b[31mb\x07c\x9bd\te\nf\x7f") == (
        "a\\x1b[31mb\\x07c\\x9bd\te\nf\\x7f")


def test_invoke_result_logs_and_errors_reach_the_terminal_escaped(project, ow, capsys):
    assert cli.main(["deploy"]) == 0
    capsys.readouterr()
    logged = json.dumps({"time": "t", "level": "info", "logger": "a", "message": ESCAPES})
    ow.on_invoke("demo/hello", Run({"say": ESCAPES}, logs=[logged, ESCAPES]))
    status, out = run(capsys, "invoke", "demo/hello")
    assert status == 0
    (activation_id,) = ow.activations
    for argv in (["logs"], ["activation", activation_id, "--logs"],
                 ["activation", activation_id]):
        status, shown = run(capsys, *argv)
        assert status == 0, shown
        out += shown
    assert not any(character in out for character in "\x1b\x07\x9b\r")
    assert "\\x1b]52;c;ZXZpbA==\\x07" in out


def test_logs_raw_keeps_the_bytes_only_where_no_terminal_reads_them(project, ow, capsys):
    assert cli.main(["deploy"]) == 0
    ow.on_invoke("demo/hello", Run({}, logs=[f"plain {ESCAPES}"]))
    run(capsys, "invoke", "demo/hello")
    status, out = run(capsys, "logs", "demo/hello", "--raw")
    assert status == 0
    assert "\x1b]52;c;ZXZpbA==\x07" in out  # capsys is no terminal

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    from tools.deploy.target import Console, project_secrets
    console = Console(Terminal(), project_secrets(None, None))
    console.raw = True
    console.line(ESCAPES)
    assert "\x1b" not in console.out.getvalue()


def test_a_server_error_with_escapes_is_printed_escaped(controller, capsys, monkeypatch,
                                                        tmp_path):
    found = controller(lambda method, path: (500, {"error": f"boom {ESCAPES}"}))
    monkeypatch.chdir(tmp_path)
    status, out = run(capsys, "undeploy", "--project", "p", "--apihost", found.url,
                      "--auth", AUTH)
    assert status == 1
    assert "boom \\x1b[2J" in out
    assert "\x1b" not in out


# --- 3. endless lists -------------------------------------------------------------------------

def test_a_server_that_ignores_skip_is_stopped_at_the_first_repeated_page(controller):
    page = [{"name": f"p{n}", "namespace": "ns"} for n in range(client.LIST_PAGE)]
    found = controller(lambda method, path: (200, page))
    with pytest.raises(OpenWhiskError, match="already listed"):
        _client(found).list("packages", "ns")
    assert len(found.requests) == 2


def test_a_list_that_never_ends_stops_at_the_cap(controller, monkeypatch):
    monkeypatch.setattr(client, "MAX_LIST_PAGES", 3)
    pages = iter(range(100))

    def route(method: str, path: str) -> tuple[int, Any]:
        start = next(pages) * client.LIST_PAGE
        return 200, [{"name": f"p{n}", "namespace": "ns"}
                     for n in range(start, start + client.LIST_PAGE)]

    found = controller(route)
    with pytest.raises(OpenWhiskError, match="more than 600 entities"):
        _client(found).list("packages", "ns")
    assert len(found.requests) == 3


# --- 4. malformed answers ---------------------------------------------------------------------

@pytest.mark.parametrize(("record", "field"), [
    ({"name": "p", "annotations": 7}, "'annotations' is int"),
    ({"name": "p", "parameters": [{"value": 1}]}, "'parameters' has no key"),
    ({"name": "p", "exec": "code"}, "'exec' is str"),
    ({"name": "p", "limits": [1]}, "'limits' is list"),
])
def test_a_malformed_record_is_an_error_naming_the_field(controller, record, field):
    found = controller(lambda method, path: (200, record))
    with pytest.raises(OpenWhiskError, match=field):
        _client(found).get(Entity("packages", "p"), "ns")


def test_a_malformed_list_entry_is_an_error(controller):
    found = controller(lambda method, path: (200, [{"name": "p", "annotations": {"a": 1}}]))
    with pytest.raises(OpenWhiskError, match="'annotations' is dict"):
        _client(found).list("packages", "ns")


def test_watch_reports_a_malformed_answer_and_goes_on(controller, project, tmp_path):
    def route(method: str, path: str) -> tuple[int, Any]:
        if path == "/":
            return 200, {"runtimes": {"python": [{"kind": "python:3.11"}]}}
        return 200, {"name": "demo", "annotations": 7}

    found = controller(route)
    out = io.StringIO()
    options = Options(apihost=found.url, auth=AUTH, namespace="ns")
    source = ProjectSource(project / "manifest.yaml", project / ".env")
    for _ in range(2):  # the watch loop calls it once per save, and goes on
        assert watch.deploy_once(source, options, out) is not None
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all("error: reading package demo" in line and "'annotations' is int" in line
               for line in lines), lines


# --- 6. dry runs that run code ----------------------------------------------------------------

def test_a_dry_run_and_list_import_no_project_code(project, ow, capsys):
    marker = project / "imported"
    init = project / "actions" / "hello" / "__init__.py"
    init.write_text(f"open({str(marker)!r}, 'w').close()\n" + init.read_text())
    status, out = run(capsys, "deploy", "--dry-run")
    assert status == 0, out
    assert not marker.exists()
    status, out = run(capsys, "list")
    assert status == 0, out
    assert not marker.exists()
    assert run(capsys, "build")[0] == 0  # build says it loads each zip, and does
    assert marker.exists()


# --- 7. the watcher reads only regular files, capped -----------------------------------------

def test_the_watcher_never_reads_a_fifo_or_a_device(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert watch._digest(fifo).startswith("not a regular file")
    assert watch._digest(pathlib.Path("/dev/zero")).startswith("not a regular file")
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(watch.MAX_DIGESTED_BYTES + 1)
    assert watch._digest(big).startswith("large:")
    (tmp_path / "small").write_bytes(b"x")
    assert len(watch._digest(tmp_path / "small")) == 64


# --- 9. taking over another project's entity --------------------------------------------------

def test_an_entity_another_project_owns_is_not_overwritten_without_adopt(project, ow, capsys):
    assert cli.main(["deploy", "--project", "other"]) == 0
    capsys.readouterr()
    status, out = run(capsys, "deploy")
    assert status == 1
    assert "belongs to project 'other'" in out
    assert "--adopt" in out
    held = ow.view("packages", "demo")
    assert "'projectName': 'other'" in str(held["annotations"])

    status, out = run(capsys, "deploy", "--adopt")
    assert status == 0, out
    status, out = run(capsys, "deploy", "--project", "other")
    assert status == 1  # now the other project is refused in its turn
    assert "belongs to project 'alarm-demo'" in out


# --- 10. credentials from two places ----------------------------------------------------------

def test_a_key_from_the_shell_is_never_sent_to_a_host_from_env_file(project, ow, capsys,
                                                                    monkeypatch):
    """The repository's .env names a host; the key exported in the shell is someone's own."""
    (project / ".env").write_text(f"AIO_RUNTIME_APIHOST={ow.apihost}\n"
                                  + "".join(f"{k}={v}\n" for k, v in HELLO_ENV.items()))
    monkeypatch.setenv("AIO_RUNTIME_AUTH", AUTH)
    ow.clear_calls()
    status, out = run(capsys, "deploy")
    assert status == 2
    assert ("the APIHOST comes from AIO_RUNTIME_APIHOST in .env and the AUTH key from "
            "AIO_RUNTIME_AUTH in the shell") in out
    assert ow.calls == []  # nothing reached the host


@pytest.mark.parametrize(("flags", "words"), [
    (["--apihost", "https://elsewhere.test"], "from --apihost and the AUTH key from "
                                              "AIO_RUNTIME_* (.env)"),
    (["--auth", "other:key"], "from AIO_RUNTIME_* (.env) and the AUTH key from --auth"),
])
def test_one_flag_does_not_pair_with_a_key_or_host_from_elsewhere(project, capsys, flags,
                                                                   words):
    status, out = run(capsys, "deploy", *flags)
    assert status == 2
    assert f"the APIHOST comes {words}" in out


def test_both_from_the_shell_or_both_flags_are_one_place(project, ow, capsys, monkeypatch):
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in HELLO_ENV.items()))
    monkeypatch.setenv("AIO_RUNTIME_APIHOST", ow.apihost)
    monkeypatch.setenv("AIO_RUNTIME_AUTH", AUTH)
    status, out = run(capsys, "deploy")
    assert status == 0, out
    assert "credentials from AIO_RUNTIME_* (the shell)" in out
    monkeypatch.delenv("AIO_RUNTIME_APIHOST")
    monkeypatch.delenv("AIO_RUNTIME_AUTH")
    status, out = run(capsys, "deploy", "--apihost", ow.apihost, "--auth", AUTH)
    assert status == 0, out
