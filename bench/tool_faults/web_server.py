"""The local web-action server under idle, half-open, bursty and ambiguous peers."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from unittest import mock

from bench.tool_faults.common import MANIFEST, Observation, Scenario, Settings, importable, project
from tools.local import server as local_server
from tools.local.runner import local_action
from tools.local.web_actions import WebActions
from tools.manifest import load_manifest

CLOSE_MARGIN = 5.0  # seconds past the idle timeout a client waits before calling a peer open
REQUEST_TIMEOUT = 30.0  # seconds a client waits for an answer to one request
CONNECT_TIMEOUT = 0.5  # seconds one connection of the burst may take
BURST = 64  # connections opened while the server accepts none
NESTING = 100_000  # levels of JSON arrays in the deep body
DUPLICATE_LENGTH_MESSAGE = "The request has more than one Content-Length."
FOREIGN_HOST_MESSAGE = "The Host header does not name this server."
TOO_DEEP_MESSAGE = "The request content was malformed: nested too deeply."
CLOSED_AT_TIMEOUT = "closed by the server at the idle timeout, nothing sent"


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
    with project(settings) as p, importable(p.root, "tool_faults") as module, \
            mock.patch.object(local_server._WebHandler, "timeout", settings.idle_timeout), \
            contextlib.redirect_stderr(io.StringIO()):
        (p.root / f"{module}.py").write_text(
            "def main(params):\n    return {'body': {'ok': True}}\n", encoding="utf-8")
        p.manifest.write_text(MANIFEST.replace("hello.py", f"{module}.py")
                              + "        web: 'yes'\n", encoding="utf-8")
        manifest = load_manifest(p.manifest, {})
        actions = [local_action(manifest, action, {}) for action in manifest.actions()]
        with local_server.WebActionServer(actions, "guest", port=0) as server:
            host, port = server.url.removeprefix("http://").rsplit(":", 1)
            yield Served((host, int(port)), server.web_actions.url_path(actions[0]))


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
    server = local_server._WebServer(("127.0.0.1", 0), WebActions([], "guest"))
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


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("web server: idle connection (nothing sent)", CLOSED_AT_TIMEOUT, idle_peer(False)),
    Scenario("web server: half-open request (no blank line)", CLOSED_AT_TIMEOUT,
             idle_peer(True)),
    Scenario(f"web server: {BURST} connections while it accepts none",
             f"{BURST} of {BURST} connected", burst),
    Scenario("web server: two Content-Length headers", f"400: {DUPLICATE_LENGTH_MESSAGE}",
             refused_request(_two_lengths)),
    Scenario("web server: Host: attacker.example:PORT (DNS rebinding)",
             f"400: {FOREIGN_HOST_MESSAGE}", refused_request(_foreign_host)),
    Scenario(f"web server: JSON nested {NESTING:,} deep", f"400: {TOO_DEEP_MESSAGE}",
             refused_request(_deep_json)),
)
