"""The emulator's HTTP side: each request recorded, delayed, dropped or answered.

The handler asks only what ScriptedServices names of the services behind it
(tools.sandbox.emulator.AdobeEmulator is the one such), so this module needs
nothing of the emulator's.
"""

from __future__ import annotations

import secrets
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tools.loopback import LoopbackServer
from tools.sandbox.services import ENDPOINT_PATHS, Fault, RecordedRequest, Reply


class ScriptedServices(Protocol):
    """What the handler asks of the emulated services: count, record, wait, answer."""

    latency: float  # seconds added before every answer

    def connection_opened(self) -> int:
        """Count a new connection; its number."""

    def record(self, request: RecordedRequest) -> Fault | None:
        """Store the request; the fault scripted for it, if any."""

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False when the services are stopping meanwhile."""

    def answer(self, request: RecordedRequest) -> Reply:
        """The normal answer."""

    def scripted(self, endpoint: str, fault: Fault, request: RecordedRequest) -> Reply:
        """The fault's answer."""


class SandboxServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], services: ScriptedServices) -> None:
        self.services = services
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    # Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to each keep-alive answer.
    disable_nagle_algorithm = True
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.services.connection_opened()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests and the local runner print what matters

    def _serve(self) -> None:
        services = self.server.services
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        endpoint = ENDPOINT_PATHS.get(parts.path, "other")
        request = RecordedRequest(
            endpoint=endpoint,
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self._lower_headers(),
            body=body,
            connection_id=self.connection_id,
            received_at=time.monotonic(),
        )
        fault = services.record(request)
        running = services.pause(services.latency + (fault.delay if fault else 0.0))
        if not running or (fault is not None and fault.drop):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is None:
            reply = services.answer(request)
        else:
            reply = services.scripted(endpoint, fault, request)
        if endpoint == "ims" and not any(name.lower() == "x-debug-id" for name in reply.headers):
            reply.headers["x-debug-id"] = secrets.token_hex(8)
        self._send(reply, fault.trickle if fault else 0.0)

    def _lower_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _send(self, reply: Reply, trickle: float = 0.0) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not trickle:
            self.wfile.write(reply.body)
            return
        for byte in reply.body:
            if not self.server.services.pause(trickle):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:  # the client gave up: that is the point
                return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve
