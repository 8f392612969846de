"""Builds and the deploy client's transport: links out of the project, zips that cannot
load, plain http off loopback, a server that trickles its headers forever."""

from __future__ import annotations

import http.server
import pathlib
import tempfile
import time
from typing import Any

from bench.tool_faults.common import Observation, Scenario, Settings, exit_outcome, project
from tools.deploy.client import RETRIES, Call, Client, OpenWhiskError
from tools.deploy.credentials import Credentials
from tools.loopback import LoopbackServer

TRICKLE_SECONDS = 60.0  # how long the trickling server would go on: past either deadline
CLOSE_MARGIN = 5.0  # seconds past the deadline the client may take before it counts as hung
BENCH_AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:bench-tool-faults-key-0123456789"
LINK_TO_ENV_MESSAGE = "lib/config.py is a link to .env, hidden (.env)"
LEADS_OUT_MESSAGE = "lib/shared leads out of the project folder"
CANNOT_LOAD_MESSAGE = "the zip does not load as the runtime loads it"
PLAIN_HTTP_MESSAGE = "is plain http: the AUTH key would cross the network in clear"
NOT_A_HOST_MESSAGE = "is not a host or an http(s) URL of one (no path, query or fragment)"


def link_to_env(settings: Settings) -> Observation:
    """``lib/config.py`` a link to the project's own ``.env``: the issue's example."""
    with project(settings) as p:
        p.with_secret()
        (p.root / "lib").mkdir()
        (p.root / "lib" / "__init__.py").write_text("", encoding="utf-8")
        (p.root / "lib" / "config.py").symlink_to(p.env_file)
        done = p.cli("build")
        outcome = exit_outcome(done, 1, LINK_TO_ENV_MESSAGE, p)
        built = sorted(path.name for path in (p.root / "build").rglob("*.zip"))
    return Observation(outcome if not built else f"{outcome}; built {built}", done.seconds,
                       {"exit_status": done.status})


def folder_link_out(settings: Settings) -> Observation:
    with project(settings) as p:
        (p.root / "lib").mkdir()
        (p.root / "lib" / "shared").symlink_to(pathlib.Path(tempfile.gettempdir()),
                                               target_is_directory=True)
        done = p.cli("build")
        outcome = exit_outcome(done, 1, LEADS_OUT_MESSAGE, p)
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def zip_that_cannot_load(settings: Settings) -> Observation:
    with project(settings) as p:
        (p.root / "hello.py").write_text("from lib.missing import thing\n\n\n"
                                         "def main(params):\n    return {}\n", encoding="utf-8")
        done = p.cli("build")
        outcome = exit_outcome(done, 1, CANNOT_LOAD_MESSAGE, p)
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def plain_http(settings: Settings) -> Observation:
    with project(settings) as p:
        done = p.cli("deploy", "--apihost", "http://ow.example.com", "--auth", BENCH_AUTH)
        outcome = exit_outcome(done, 2, PLAIN_HTTP_MESSAGE, p)
        if BENCH_AUTH.partition(":")[2] in done.out + done.err:
            outcome += "; the AUTH key was printed"
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def apihost_with_an_empty_query(settings: Settings) -> Observation:
    """``…:PORT?``: a URL parser drops the empty query, the web URLs would carry it."""
    with project(settings) as p:
        done = p.cli("deploy", "--apihost", "http://127.0.0.1:3233?", "--auth", BENCH_AUTH)
        outcome = exit_outcome(done, 2, NOT_A_HOST_MESSAGE, p)
    return Observation(outcome, done.seconds, {"exit_status": done.status})


class HeaderTrickler(http.server.BaseHTTPRequestHandler):
    """Status line, then one header byte every 0.1 s: each read is quick, the answer never ends."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(int(TRICKLE_SECONDS / 0.1)):
            try:
                self.wfile.write(b"X")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)


def trickling_server(settings: Settings) -> Observation:
    server = LoopbackServer(("127.0.0.1", 0), HeaderTrickler)
    server.start()
    try:
        client = Client(Credentials(server.url, BENCH_AUTH, "ns", "bench"),
                        policy=RETRIES._replace(retries=0),
                        request_seconds=settings.request_deadline)
        started = time.perf_counter()
        try:
            client.send(Call("GET", "/"), "checking the server")
            outcome = "answered"
        except OpenWhiskError as exc:
            outcome = ("cut off at the deadline" if "did not" in str(exc) and
                       time.perf_counter() - started < settings.request_deadline + CLOSE_MARGIN
                       else f"failed otherwise: {exc}")
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    return Observation(outcome, seconds, {"deadline_seconds": settings.request_deadline})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("build: lib/config.py a link to the project's .env", f"exit 1: {LINK_TO_ENV_MESSAGE}",
             link_to_env),
    Scenario("build: lib/shared a link to a folder outside the project",
             f"exit 1: {LEADS_OUT_MESSAGE}", folder_link_out),
    Scenario("build: an action importing a module the zip lacks", f"exit 1: {CANNOT_LOAD_MESSAGE}",
             zip_that_cannot_load),
    Scenario("deploy: APIHOST http://ow.example.com, no --allow-http",
             f"exit 2: {PLAIN_HTTP_MESSAGE}", plain_http),
    Scenario("deploy: APIHOST http://127.0.0.1:3233? (an empty query)",
             f"exit 2: {NOT_A_HOST_MESSAGE}", apihost_with_an_empty_query),
    Scenario("deploy client: a server that trickles its headers forever",
             "cut off at the deadline", trickling_server),
)
