"""``python -m bench.tool_faults``: the developer tools under hostile files and peers, as a table.

Each scenario sets up a throw-away project in a temporary folder (or a local
web-action server on 127.0.0.1), throws one fault at the real tool (the
``deploy.py`` command line through ``deploy.main``, or
``tools.local.server.WebActionServer``) and records what came back and how
long it took: YAML alias bombs and oversized manifests and ``.env`` files
refused with exit status 2, ``render --output`` writing a new 0600 file
instead of writing through a link, secrets masked by value, and the web
server dropping idle and half-open peers, keeping a 128 backlog and refusing
ambiguous requests. tests/test_tool_faults.py runs the same SCENARIOS.

A run generates its own secret; it goes into the projects' ``.env`` files only
and is masked in anything this module prints.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import io
import json
import os
import pathlib
import platform
import secrets
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import deploy
from bench.report import Table, pipe_table
from tools.deploy.client import REQUEST_SECONDS, RETRIES, Call, Client, OpenWhiskError
from tools.deploy.credentials import Credentials
from tools.local import server as web_server
from tools.local.runner import local_action
from tools.local.web_actions import WebActions
from tools.loopback import LoopbackServer
from tools.manifest import load_manifest
from tools.manifest.yaml_file import MAX_EXPANDED_NODES
from tools.textfile import MAX_TEXT_FILE_BYTES

QUICK_IDLE_TIMEOUT = 0.3  # seconds: the handler timeout under --quick
QUICK_REQUEST_DEADLINE = 1.0  # seconds: deploy.py's request deadline under --quick
TRICKLE_SECONDS = 60.0  # how long the trickling server would go on: past either deadline
BENCH_AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:bench-tool-faults-key-0123456789"
CLOSE_MARGIN = 5.0  # seconds past the idle timeout a client waits before calling a peer open
REQUEST_TIMEOUT = 30.0  # seconds a client waits for an answer to one request
CONNECT_TIMEOUT = 0.5  # seconds one connection of the burst may take
BURST = 64  # connections opened while the server accepts none
NESTING = 100_000  # levels of JSON arrays in the deep body
BOMB_LEVELS, BOMB_ALIASES = 9, 10  # 10^9 values once expanded
TWO_MIB = 2 * 1024 * 1024
SECRET_VARIABLE = "BENCH_TOOL_FAULTS_SECRET"  # noqa: S105 - a variable name, not a secret
# Process variables that would change what the CLI sees; each run starts without them.
HOST_VARIABLES = ("AIO_RUNTIME_AUTH", "AIO_RUNTIME_APIHOST", "AIO_RUNTIME_NAMESPACE",
                  SECRET_VARIABLE)

ALIAS_MESSAGE = f"aliases expand to more than {MAX_EXPANDED_NODES} values"
SELF_ALIAS_MESSAGE = "an alias refers to a value that contains it"
TOO_LARGE_MESSAGE = f"larger than {MAX_TEXT_FILE_BYTES} bytes; not read"
DUPLICATE_LENGTH_MESSAGE = "The request has more than one Content-Length."
FOREIGN_HOST_MESSAGE = "The Host header does not name this server."
TOO_DEEP_MESSAGE = "The request content was malformed: nested too deeply."
LINK_TO_ENV_MESSAGE = "lib/config.py is a link to .env, hidden (.env)"
LEADS_OUT_MESSAGE = "lib/shared leads out of the project folder"
CANNOT_LOAD_MESSAGE = "the zip does not load as the runtime loads it"
PLAIN_HTTP_MESSAGE = "is plain http: the AUTH key would cross the network in clear"

# What the checks of the rendered files say when they pass (and the Expected column shows).
REPLACED_LINK = "F a regular 0600 file with the manifest"
TARGET_KEPT = "the link's target untouched"
NEW_FILE = "F a new 0600 file with the manifest"
OTHER_NAME_KEPT = "the other link keeps the old text"
NO_PARTIAL = "no partial file left"
MASKED_BY_VALUE = "masked under the non-secret key COPY"
NOT_SHOWN = "the value nowhere in the output"
CLOSED_AT_TIMEOUT = "closed by the server at the idle timeout, nothing sent"

MANIFEST = """\
packages:
  demo:
    actions:
      hello:
        function: hello.py
        runtime: python:3.11
"""
SECRET_INPUTS = f"""\
        inputs:
          API_SECRET: ${SECRET_VARIABLE}
          COPY: ${SECRET_VARIABLE}
"""


@dataclass(frozen=True)
class Settings:
    """What one run uses: the web server's handler timeout, and the secret its projects hold."""

    idle_timeout: float = web_server.IDLE_TIMEOUT_SECONDS
    request_deadline: float = REQUEST_SECONDS  # deploy.py's deadline for one request
    secret: str = field(default_factory=lambda: f"bench-{secrets.token_hex(16)}", repr=False)

    @classmethod
    def for_run(cls, quick: bool) -> Settings:
        if quick:
            return cls(QUICK_IDLE_TIMEOUT, QUICK_REQUEST_DEADLINE)
        return cls(web_server.IDLE_TIMEOUT_SECONDS, REQUEST_SECONDS)


@dataclass(frozen=True)
class Observation:
    outcome: str  # compared with the scenario's expected outcome
    seconds: float  # how long the fault took to be answered
    facts: dict[str, Any] = field(default_factory=dict)  # measured figures, for --json


@dataclass(frozen=True)
class Scenario:
    """One fault, the outcome the tools document for it, and how to throw it."""

    name: str
    expected: str
    run: Callable[[Settings], Observation] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    observation: Observation
    settings: Settings

    @property
    def as_documented(self) -> bool:
        return self.observation.outcome == self.scenario.expected


# --- the deploy.py command line ----------------------------------------------------------------

@dataclass(frozen=True)
class CliRun:
    status: int
    out: str = field(repr=False)
    err: str = field(repr=False)
    seconds: float


class Project:
    """A throw-away project folder: manifest.yaml, an empty .env, hello.py, no ~/.wskprops."""

    def __init__(self, root: pathlib.Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self.manifest = root / "manifest.yaml"
        self.env_file = root / ".env"
        self.manifest.write_text(MANIFEST, encoding="utf-8")
        self.env_file.write_text("", encoding="utf-8")
        (root / "hello.py").write_text("def main(params):\n    return {}\n", encoding="utf-8")
        (root / "no-wskprops").write_text("", encoding="utf-8")

    def with_secret(self) -> Project:
        """A secret-named input and a plain one (COPY) both set to the run's secret."""
        self.manifest.write_text(MANIFEST + SECRET_INPUTS, encoding="utf-8")
        self.env_file.write_text(f"{SECRET_VARIABLE}={self.settings.secret}\n",
                                 encoding="utf-8")
        return self

    def cli(self, *words: str) -> CliRun:
        """``deploy.main`` on this project, its output captured, in a process environment
        without the host's OpenWhisk settings."""
        argv = [*words, "--manifest", str(self.manifest), "--env-file", str(self.env_file)]
        if words[0] == "build":
            argv += ["--out", str(self.root / "build")]
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, {"WSK_CONFIG_FILE": str(self.root / "no-wskprops")}):
            for name in HOST_VARIABLES:
                os.environ.pop(name, None)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                started = time.perf_counter()
                status = deploy.main(argv)
                seconds = time.perf_counter() - started
        return CliRun(status, out.getvalue(), err.getvalue(), seconds)

    def shown(self, text: str) -> str:
        """``text`` fit for the table: the temporary folder shortened, the secret masked."""
        return text.replace(str(self.root), "<tmp>").replace(self.settings.secret, "<hidden>")


@contextlib.contextmanager
def project(settings: Settings) -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="tool-faults-") as folder:
        yield Project(pathlib.Path(folder).resolve(), settings)


def exit_outcome(done: CliRun, status: int, message: str, where: Project) -> str:
    """``exit 2: <message>`` when the command failed as documented; else what it said."""
    if done.status == status and message in done.err and "Traceback" not in done.err:
        return f"exit {status}: {message}"
    said = done.err.strip().splitlines()[-1] if done.err.strip() else "nothing on stderr"
    return f"exit {done.status}: {where.shown(said)[:120]}"


def verdicts(*checks: tuple[bool, str, str]) -> str:
    """``good`` for each check that held, ``bad`` for each that did not, joined."""
    return "; ".join(good if ok else bad for ok, good, bad in checks)


def billion_laughs(levels: int = BOMB_LEVELS, aliases: int = BOMB_ALIASES) -> str:
    """YAML whose last anchor expands to ``aliases ** levels`` values."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * aliases)}]"
              for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# The bomb, then a valid manifest whose one input is the bomb's last alias.
BOMB_MANIFEST = billion_laughs() + MANIFEST + f"        inputs:\n          LOL: *a{BOMB_LEVELS}\n"


def alias_bomb(*command: str) -> Callable[[Settings], Observation]:
    def run(settings: Settings) -> Observation:
        with project(settings) as p:
            p.manifest.write_text(BOMB_MANIFEST, encoding="utf-8")
            size = p.manifest.stat().st_size
            done = p.cli(*command)
            outcome = exit_outcome(done, 2, ALIAS_MESSAGE, p)
        return Observation(outcome, done.seconds,
                           {"bytes": size, "bomb_bytes": len(billion_laughs().encode()),
                            "exit_status": done.status,
                            "expanded_values": BOMB_ALIASES ** BOMB_LEVELS})
    return run


def self_alias(settings: Settings) -> Observation:
    with project(settings) as p:
        p.manifest.write_text("x-loop: &loop [*loop]\n" + MANIFEST, encoding="utf-8")
        size = p.manifest.stat().st_size
        done = p.cli("render")
        outcome = exit_outcome(done, 2, SELF_ALIAS_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def _fill(path: pathlib.Path, line: str, size: int) -> int:
    """``path`` made of ``line`` repeated to at least ``size`` bytes; its size."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(line * (size // len(line) + 1))
    return path.stat().st_size


def huge_manifest(settings: Settings) -> Observation:
    with project(settings) as p:
        size = _fill(p.manifest, "# padding: a comment line of a manifest far too large\n",
                     TWO_MIB)
        done = p.cli("render")
        outcome = exit_outcome(done, 2, TOO_LARGE_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def huge_env(settings: Settings) -> Observation:
    with project(settings) as p:
        size = _fill(p.env_file, "PAD=" + "x" * 95 + "\n", TWO_MIB)
        done = p.cli("render")
        outcome = exit_outcome(done, 2, TOO_LARGE_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _partials(p: Project) -> list[str]:
    return [entry.name for entry in p.root.iterdir() if entry.name.endswith(".partial")]


def render_over_symlink(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        target = p.root / "target.txt"
        target.write_text("keep me", encoding="utf-8")
        target.chmod(0o644)
        output = p.root / "rendered.yaml"
        output.symlink_to(target)
        done = p.cli("render", "--show-secrets", "--output", str(output))
        regular = output.is_file() and not output.is_symlink()
        written = regular and settings.secret in output.read_text(encoding="utf-8")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            (written and _mode(output) == 0o600, REPLACED_LINK,
             "F still a link" if output.is_symlink() else f"F mode {_mode(output):04o}"
             if written else "F without the manifest"),
            (target.read_text(encoding="utf-8") == "keep me" and _mode(target) == 0o644,
             TARGET_KEPT, "the link's TARGET WAS CHANGED"),
            (not _partials(p), NO_PARTIAL, "a partial file left"))
        facts = {"exit_status": done.status, "output_is_link": output.is_symlink(),
                 "output_mode": f"{_mode(output):04o}", "target_mode": f"{_mode(target):04o}"}
    return Observation(outcome, done.seconds, facts)


def render_over_hard_link(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        output = p.root / "rendered.yaml"
        output.write_text("old", encoding="utf-8")
        output.chmod(0o644)
        old_inode = output.stat().st_ino
        other = p.root / "other-name.yaml"
        os.link(output, other)
        done = p.cli("render", "--show-secrets", "--output", str(output))
        new = output.stat().st_ino != old_inode and not output.is_symlink()
        written = new and settings.secret in output.read_text(encoding="utf-8")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            (written and _mode(output) == 0o600, NEW_FILE,
             "F the same file, written through" if not new else
             f"F mode {_mode(output):04o}" if written else "F without the manifest"),
            (other.read_text(encoding="utf-8") == "old" and _mode(other) == 0o644,
             OTHER_NAME_KEPT, "the other link's text or mode CHANGED"),
            (not _partials(p), NO_PARTIAL, "a partial file left"))
        facts = {"exit_status": done.status, "new_inode": new,
                 "output_mode": f"{_mode(output):04o}", "other_link_mode": f"{_mode(other):04o}"}
    return Observation(outcome, done.seconds, facts)


def render_masks_by_value(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        done = p.cli("render")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            ("COPY: <hidden>" in done.out, MASKED_BY_VALUE, "COPY not masked"),
            (settings.secret not in done.out + done.err, NOT_SHOWN,
             "THE SECRET'S VALUE WAS IN THE OUTPUT (not shown here)"))
    return Observation(outcome, done.seconds, {"exit_status": done.status})


# --- the local web-action server ---------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    address: tuple[str, int]
    path: str  # the web action's URL path

    @property
    def host(self) -> bytes:
        return f"{self.address[0]}:{self.address[1]}".encode()


@contextlib.contextmanager
def web_action_server(settings: Settings) -> Iterator[Served]:
    """The real local web-action server on 127.0.0.1 (any free port), serving one action of a
    throw-away project, with the handler timeout of ``settings``; its log lines captured.
    Stopped, its handler threads joined, and the project's module forgotten afterwards."""
    module = f"tool_faults_{secrets.token_hex(4)}"
    saved_path = list(sys.path)
    try:
        with project(settings) as p, \
                mock.patch.object(web_server._WebHandler, "timeout", settings.idle_timeout), \
                contextlib.redirect_stderr(io.StringIO()):
            (p.root / f"{module}.py").write_text(
                "def main(params):\n    return {'body': {'ok': True}}\n", encoding="utf-8")
            p.manifest.write_text(MANIFEST.replace("hello.py", f"{module}.py")
                                  + "        web: 'yes'\n", encoding="utf-8")
            manifest = load_manifest(p.manifest, {})
            actions = [local_action(manifest, action, {}) for action in manifest.actions()]
            with web_server.WebActionServer(actions, "guest", port=0) as server:
                host, port = server.url.removeprefix("http://").rsplit(":", 1)
                yield Served((host, int(port)), server.web_actions.url_path(actions[0]))
    finally:
        sys.path[:] = saved_path
        sys.modules.pop(module, None)


def until_closed(connection: socket.socket, wait: float) -> tuple[str, bytes, float]:
    """Reads until the server closes ``connection`` or ``wait`` seconds pass: how it ended
    (closed, reset or open), what arrived, and the seconds it took."""
    started = time.perf_counter()
    deadline = started + wait
    received = b""
    ending = "open"
    while (left := deadline - time.perf_counter()) > 0:
        connection.settimeout(left)
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            ending = "reset"
            break
        if not chunk:
            ending = "closed"
            break
        received += chunk
    return ending, received, time.perf_counter() - started


def idle_peer(half_open: bool) -> Callable[[Settings], Observation]:
    """A connection that sends nothing, or a request line and a header without the blank line
    that ends the head; the server must hang up at its idle timeout without answering."""
    def run(settings: Settings) -> Observation:
        timeout = settings.idle_timeout
        with web_action_server(settings) as served, \
                socket.create_connection(served.address, timeout=REQUEST_TIMEOUT) as connection:
            if half_open:
                connection.sendall(b"GET " + served.path.encode() + b" HTTP/1.1\r\nHost: "
                                   + served.host)
            ending, received, seconds = until_closed(connection, timeout + CLOSE_MARGIN)
        if ending == "open":
            outcome = f"still open {seconds:.1f} s later"
        elif received:
            outcome = f"{ending} after an answer of {len(received)} bytes"
        elif seconds < timeout * 0.9:
            outcome = f"{ending} after {seconds:.2f} s, before the {timeout:g} s idle timeout"
        else:
            outcome = CLOSED_AT_TIMEOUT
        return Observation(outcome, seconds, {"idle_timeout_seconds": timeout, "ending": ending,
                                              "bytes_received": len(received)})
    return run


def burst(settings: Settings) -> Observation:
    """BURST connections to a server that is bound and listening but accepts none, as when
    every handler is busy: only the listen backlog holds them."""
    server = web_server._WebServer(("127.0.0.1", 0), WebActions([], "guest"))
    clients: list[socket.socket] = []
    connected = 0
    try:
        started = time.perf_counter()
        for _ in range(BURST):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            clients.append(client)
            client.settimeout(CONNECT_TIMEOUT)
            try:
                client.connect(server.server_address)
            except OSError:
                continue
            connected += 1
        seconds = time.perf_counter() - started
    finally:
        for client in clients:
            client.close()
        server.server_close()
    return Observation(f"{connected} of {BURST} connected", seconds,
                       {"connected": connected, "backlog": server.request_queue_size})


def exchange(address: tuple[str, int], request: bytes) -> tuple[int, str, float]:
    """One raw request; the answer's status, its JSON ``error`` (else its start) and the time."""
    started = time.perf_counter()
    with socket.create_connection(address, timeout=REQUEST_TIMEOUT) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        try:
            response.begin()
            body = response.read()
        finally:
            response.close()
    seconds = time.perf_counter() - started
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        error = body[:80].decode("utf-8", "replace")
    return response.status, str(error), seconds


def refused_request(build: Callable[[Served], bytes]) -> Callable[[Settings], Observation]:
    def run(settings: Settings) -> Observation:
        with web_action_server(settings) as served:
            request = build(served)
            status, error, seconds = exchange(served.address, request)
        return Observation(f"{status}: {error}", seconds,
                           {"status": status, "request_bytes": len(request)})
    return run


def _two_lengths(served: Served) -> bytes:
    return (b"POST " + served.path.encode() + b" HTTP/1.1\r\nHost: " + served.host + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 9\r\n"
            b"\r\n{}")


def _foreign_host(served: Served) -> bytes:
    return (b"GET " + served.path.encode() + b" HTTP/1.1\r\nHost: attacker.example:"
            + str(served.address[1]).encode() + b"\r\n\r\n")


def _deep_json(served: Served) -> bytes:
    body = b"[" * NESTING + b"]" * NESTING
    return (b"POST " + served.path.encode() + b" HTTP/1.1\r\nHost: " + served.host + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


# --- builds and transport --------------------------------------------------------------------

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


# --- the table ---------------------------------------------------------------------------------

_BOMB = (f"YAML billion laughs, {len(billion_laughs().encode())} bytes "
         f"({BOMB_LEVELS} levels x {BOMB_ALIASES} aliases)")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(f"{_BOMB}: render", f"exit 2: {ALIAS_MESSAGE}", alias_bomb("render")),
    Scenario(f"{_BOMB}: build", f"exit 2: {ALIAS_MESSAGE}", alias_bomb("build")),
    Scenario(f"{_BOMB}: deploy --dry-run", f"exit 2: {ALIAS_MESSAGE}",
             alias_bomb("deploy", "--dry-run")),
    Scenario("YAML alias inside the value it names: render", f"exit 2: {SELF_ALIAS_MESSAGE}",
             self_alias),
    Scenario("manifest.yaml of 2 MiB: render", f"exit 2: {TOO_LARGE_MESSAGE}", huge_manifest),
    Scenario(".env of 2 MiB: render", f"exit 2: {TOO_LARGE_MESSAGE}", huge_env),
    Scenario("render --show-secrets --output F, F a symlink to another file",
             "; ".join(("exit 0", REPLACED_LINK, TARGET_KEPT, NO_PARTIAL)),
             render_over_symlink),
    Scenario("render --show-secrets --output F, F 0644 with a second hard link",
             "; ".join(("exit 0", NEW_FILE, OTHER_NAME_KEPT, NO_PARTIAL)),
             render_over_hard_link),
    Scenario("render, a secret's value also under a plain key",
             "; ".join(("exit 0", MASKED_BY_VALUE, NOT_SHOWN)), render_masks_by_value),
    Scenario("web server: idle connection (nothing sent)", CLOSED_AT_TIMEOUT, idle_peer(False)),
    Scenario("web server: half-open request (no blank line)", CLOSED_AT_TIMEOUT,
             idle_peer(True)),
    Scenario(f"web server: {BURST} connections while it accepts none",
             f"{BURST} of {BURST} connected", burst),
    Scenario("web server: two Content-Length headers", f"400: {DUPLICATE_LENGTH_MESSAGE}",
             refused_request(_two_lengths)),
    Scenario("web server: Host: attacker.example:PORT (DNS rebinding)",
             f"400: {FOREIGN_HOST_MESSAGE}", refused_request(_foreign_host)),
    Scenario("build: lib/config.py a link to the project's .env", f"exit 1: {LINK_TO_ENV_MESSAGE}",
             link_to_env),
    Scenario("build: lib/shared a link to a folder outside the project",
             f"exit 1: {LEADS_OUT_MESSAGE}", folder_link_out),
    Scenario("build: an action importing a module the zip lacks", f"exit 1: {CANNOT_LOAD_MESSAGE}",
             zip_that_cannot_load),
    Scenario("deploy: APIHOST http://ow.example.com, no --allow-http",
             f"exit 2: {PLAIN_HTTP_MESSAGE}", plain_http),
    Scenario("deploy client: a server that trickles its headers forever",
             "cut off at the deadline", trickling_server),
    Scenario(f"web server: JSON nested {NESTING:,} deep", f"400: {TOO_DEEP_MESSAGE}",
             refused_request(_deep_json)),
)


def run_scenario(scenario: Scenario, settings: Settings) -> Result:
    """The scenario thrown once; an exception is an outcome too (never as documented)."""
    started = time.perf_counter()
    try:
        observation = scenario.run(settings)
    except Exception as exc:  # reported in the table, not as a traceback
        observation = Observation(f"raised {type(exc).__name__}: {exc}"[:160],
                                  time.perf_counter() - started)
    if settings.secret in observation.outcome:  # never shown, whatever went wrong
        observation = Observation(observation.outcome.replace(settings.secret, "<hidden>"),
                                  observation.seconds, observation.facts)
    return Result(scenario, observation, settings)


def run_all(quick: bool = False) -> list[Result]:
    """Every scenario once; ``quick`` sets the web server's idle timeout to 0.3 s."""
    settings = Settings.for_run(quick)
    return [run_scenario(scenario, settings) for scenario in SCENARIOS]


def time_text(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(results: Sequence[Result]) -> Table:
    rows = tuple((r.scenario.name, r.scenario.expected, r.observation.outcome,
                  time_text(r.observation.seconds), "ok" if r.as_documented else "NO")
                 for r in results)
    return Table("The developer tools under hostile files and peers",
                 ("Scenario", "Expected", "Observed", "Time", "As documented"), rows)


def _idle_timeout(results: Sequence[Result]) -> float:
    return results[0].settings.idle_timeout if results else web_server.IDLE_TIMEOUT_SECONDS


def markdown(results: Sequence[Result], seconds: float | None = None) -> str:
    documented = sum(r.as_documented for r in results)
    took = f", {seconds:.0f} s" if seconds is not None else ""
    lines = [
        f"Command: `python -m bench.tool_faults` — Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count() or 1} CPUs{took}. "
        "Each scenario runs the real `deploy.main` or `WebActionServer` (on 127.0.0.1) on a "
        "throw-away project. The billion-laughs manifest is the bomb and a one-action manifest "
        f"whose input is its last alias, {len(BOMB_MANIFEST.encode())} bytes in all: "
        f"{BOMB_ALIASES ** BOMB_LEVELS:,} values once expanded, against a cap of "
        f"{MAX_EXPANDED_NODES:,}. The web server's idle timeout: "
        f"{_idle_timeout(results):g} s (the tools' own: {web_server.IDLE_TIMEOUT_SECONDS} s).",
        "",
        *pipe_table(table(results)),
        "",
        f"{documented} of {len(results)} scenarios as documented.",
    ]
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[Result]) -> str:
    return json.dumps({
        "idle_timeout_seconds": _idle_timeout(results),
        "scenarios": [{
            "scenario": r.scenario.name,
            "expected": r.scenario.expected,
            "observed": r.observation.outcome,
            "seconds": round(r.observation.seconds, 4),
            "as_documented": r.as_documented,
            "facts": r.observation.facts,
        } for r in results],
    }, indent=2, ensure_ascii=False) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.tool_faults",
        description="Throw hostile files and peers at the developer tools (YAML alias bombs, "
                    "oversized manifests and .env files, render --output over links, secrets "
                    "under plain keys; idle, half-open, bursty and ambiguous clients of the "
                    "local web-action server) and print, per scenario, the documented outcome, "
                    "the observed one and the time it took.",
        epilog="Exit status 0 when every scenario behaves as documented, 1 otherwise. Nothing "
               "leaves 127.0.0.1; every temporary folder and server is removed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--quick", action="store_true",
                   help=f"set the web server's idle timeout to {QUICK_IDLE_TIMEOUT:g} s instead "
                        f"of its {web_server.IDLE_TIMEOUT_SECONDS} s (the run takes seconds, "
                        "not half a minute)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.perf_counter()
    results = run_all(args.quick)
    seconds = time.perf_counter() - started
    print(to_json(results) if args.json else markdown(results, seconds), end="")
    return 0 if all(r.as_documented for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
