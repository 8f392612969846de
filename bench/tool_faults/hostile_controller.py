"""A hostile or broken controller, and another project's entities: terminal escapes in what it
answers, a list that ignores ``skip``, a malformed record, an entity another project owns;
and what must not happen on the developer's side: a dry run that runs project code, a watcher
that reads a FIFO, a key from the shell sent to a host from ``.env``."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from bench.tool_faults.builds import BENCH_AUTH
from bench.tool_faults.common import Observation, Scenario, Settings, exit_outcome, project
from tools.deploy.client import LIST_PAGE
from tools.deploy.watch import ProjectFiles
from tools.loopback import LoopbackServer
from tools.project import ProjectSource

Route = Callable[[str, str], tuple[int, Any]]
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07"
RUNTIMES = {"runtimes": {"python": [{"kind": "python:3.11"}]}}
REPEATED_MESSAGE = "with entities it had already listed"
MALFORMED_MESSAGE = "a malformed answer: 'annotations' is int"
FOREIGN_MESSAGE = "it belongs to project 'other'"
TWO_PLACES_MESSAGE = ("the APIHOST comes from AIO_RUNTIME_APIHOST in .env and the AUTH key "
                      "from AIO_RUNTIME_AUTH in the shell")


class ScriptedController:
    """A controller on 127.0.0.1 that answers ``route(method, path)`` with JSON, counting the
    requests it gets; a context manager."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[str] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    owner.requests.append(f"{self.command} {self.path}")
                status, body = owner.route(self.command, self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.url = self.server.url

    def __enter__(self) -> ScriptedController:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    def flags(self) -> tuple[str, ...]:
        return ("--apihost", self.url, "--auth", BENCH_AUTH, "--namespace", "ns")


def escapes_in_logs(settings: Settings) -> Observation:
    activation = {"activationId": "a1", "name": "hello", "start": 1, "duration": 5,
                  "response": {"status": "success"}, "logs": [f"2024 stdout: {ESCAPES}"]}
    with project(settings) as p, ScriptedController(
            lambda method, path: (200, [activation])) as server:
        done = p.cli("logs", "demo/hello", *server.flags())
    raw = any(character in done.out + done.err for character in "\x1b\x07")
    outcome = ("exit 0: shown as \\x1b, no control character printed"
               if done.status == 0 and not raw and "\\x1b]52;c;" in done.out
               else f"exit {done.status}: {'RAW ESCAPES PRINTED' if raw else 'not shown'}")
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def list_ignoring_skip(settings: Settings) -> Observation:
    page = [{"name": f"p{n}", "namespace": "ns"} for n in range(LIST_PAGE)]
    with project(settings) as p, ScriptedController(lambda method, path: (200, page)) as server:
        done = p.cli("undeploy", "--project", "demo", *server.flags())
        pages = len(server.requests)
    return Observation(f"{exit_outcome(done, 1, REPEATED_MESSAGE, p)}; {pages} pages read",
                       done.seconds, {"exit_status": done.status, "pages": pages})


def _deploy_against(settings: Settings, held: dict[str, Any], message: str) -> Observation:
    def route(method: str, path: str) -> tuple[int, Any]:
        if path == "/":
            return 200, RUNTIMES
        return (200, held) if method == "GET" else (200, {})

    with project(settings) as p, ScriptedController(route) as server:
        p.manifest.write_text("project:\n  name: demo\n" + "  " + p.manifest.read_text()
                              .replace("\n  ", "\n    "), encoding="utf-8")
        done = p.cli("deploy", *server.flags())
        writes = sum(not request.startswith("GET") for request in server.requests)
    # A refusal mid-deploy is in the deploy's report, on stdout.
    said = (f"exit 1: {message}" if done.status == 1 and message in done.out
            else f"exit {done.status}: {p.shown(done.out.strip())[-120:]}")
    return Observation(f"{said}; {writes} writes", done.seconds, {"exit_status": done.status})


def malformed_record(settings: Settings) -> Observation:
    return _deploy_against(settings, {"name": "demo", "annotations": 7}, MALFORMED_MESSAGE)


def foreign_entity(settings: Settings) -> Observation:
    managed = {"key": "whisk-managed", "value": {"projectName": "other"}}
    return _deploy_against(settings, {"name": "demo", "annotations": [managed]},
                           FOREIGN_MESSAGE)


def dry_run_runs_no_code(settings: Settings) -> Observation:
    with project(settings) as p:
        marker = p.root / "imported"
        (p.root / "hello.py").write_text(f"open({str(marker)!r}, 'w').close()\n\n\n"
                                         "def main(params):\n    return {}\n", encoding="utf-8")
        done = p.cli("deploy", "--dry-run")
        ran = marker.exists()
    outcome = (f"exit {done.status}: " + ("THE ACTION'S CODE RAN" if ran else
                                          "nothing imported, nothing sent"))
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def watcher_and_special_files(settings: Settings) -> Observation:
    """A FIFO and a link to /dev/zero among an action's files: seen, never read."""
    with project(settings) as p:
        folder = p.root / "actions" / "hello"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("def main(params):\n    return {}\n")
        os.mkfifo(folder / "pipe")
        (folder / "zero").symlink_to("/dev/zero")
        p.manifest.write_text(p.manifest.read_text().replace("hello.py", "actions/hello"))
        source = ProjectSource(p.manifest, p.env_file)
        files = ProjectFiles(source)
        files.learn(source.load())
        started = time.perf_counter()
        snapshot = files.snapshot()
        seconds = time.perf_counter() - started
        special = [snapshot.get(str(folder / name)) or "" for name in ("pipe", "zero")]
    ok = all(value.startswith("not a regular file") for value in special)
    return Observation("both watched, neither read" if ok else f"read: {special}", seconds)


def key_from_the_shell(settings: Settings) -> Observation:
    with project(settings) as p, ScriptedController(lambda method, path: (200, {})) as server:
        p.env_file.write_text(f"AIO_RUNTIME_APIHOST={server.url}\n", encoding="utf-8")
        done = p.cli("deploy", exported={"AIO_RUNTIME_AUTH": BENCH_AUTH})
        reached = len(server.requests)
    return Observation(f"{exit_outcome(done, 2, TWO_PLACES_MESSAGE, p)}; {reached} requests",
                       done.seconds, {"exit_status": done.status})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("logs: an activation's log line with clear-screen, title and OSC 52",
             "exit 0: shown as \\x1b, no control character printed", escapes_in_logs),
    Scenario("undeploy --project: a controller that ignores skip",
             f"exit 1: {REPEATED_MESSAGE}; 2 pages read", list_ignoring_skip),
    Scenario('deploy: a record with "annotations": 7', f"exit 1: {MALFORMED_MESSAGE}; 0 writes",
             malformed_record),
    Scenario("deploy: the package belongs to project 'other'",
             f"exit 1: {FOREIGN_MESSAGE}; 0 writes", foreign_entity),
    Scenario("deploy --dry-run: an action whose import writes a file",
             "exit 0: nothing imported, nothing sent", dry_run_runs_no_code),
    Scenario("watch: a FIFO and a link to /dev/zero in an action's folder",
             "both watched, neither read", watcher_and_special_files),
    Scenario("deploy: AIO_RUNTIME_APIHOST in .env, AIO_RUNTIME_AUTH in the shell",
             f"exit 2: {TWO_PLACES_MESSAGE}; 0 requests", key_from_the_shell),
)
