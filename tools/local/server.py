"""The local web-action server: ``python -m actions.<name> --serve``.

One JSON log line per request; the query is never logged (it may hold secrets).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from lib.endpoints import is_loopback
from lib.log import fields
from lib.web import MAX_PAYLOAD_BYTES
from tools.local.routes import route_urls
from tools.local.runner import LocalAction, tool_logger
from tools.local.web_actions import WebActions
from tools.local.web_types import WebRequest, WebResponse, error_answer
from tools.loopback import LoopbackServer, LoopbackService

DEFAULT_PORT = 9080
IDLE_TIMEOUT_SECONDS = 15


def serves_host(header: str, bound_host: str, port: int) -> bool:
    """True when a ``Host`` header names this server: its port, and a loopback name when it
    listens on loopback, else an IP literal, ``localhost`` or this machine's name."""
    parts = urlsplit(f"//{header}")
    try:
        named_port = parts.port
    except ValueError:
        return False
    if (named_port or 80) != port or not parts.hostname or parts.username is not None:
        return False
    host = parts.hostname
    if is_loopback(bound_host):
        return is_loopback(host)
    return is_loopback(host) or _is_ip(host) or host == socket.gethostname().lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _WebHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS  # each read and write: an idle or half-open peer is dropped
    server: _WebServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one JSON line per request is written by _serve instead

    def _serve(self) -> None:
        started = time.monotonic()
        answer = self._refusal()
        if answer is not None:
            self.close_connection = True
        else:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length > 0 else b""
            request = WebRequest(self.command, self.path, self._lower_headers(), body)
            answer = self.server.actions.respond(request)
        path = urlsplit(self.path).path  # the query may hold secrets: never logged
        self.server.log.info(
            "%s %s %d %d ms", self.command, path, answer.status,
            int((time.monotonic() - started) * 1000),
            extra=fields(method=self.command, path=path, status=answer.status,
                         activation_id=answer.activation_id))
        self._send(answer)  # after the log line, so it is written before the client moves on

    def _refusal(self) -> WebResponse | None:
        """The answer to a request refused before its body is read, if it is one."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not serves_host(hosts[0], *self.server.server_address[:2]):
            # DNS rebinding: a page from another site must not reach a server that holds
            # this machine's credentials through a name of its own.
            return error_answer(400, "The Host header does not name this server.")
        lengths = self.headers.get_all("Content-Length") or ["0"]
        if len(lengths) > 1:
            return error_answer(400, "The request has more than one Content-Length.")
        length = lengths[0]
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
            return error_answer(411, "Send the body with a valid Content-Length.")
        if int(length) > MAX_PAYLOAD_BYTES:  # refused before reading: the body is never held
            return error_answer(413, f"Request larger than allowed: {length} > "
                                     f"{MAX_PAYLOAD_BYTES} bytes.")
        return None

    def _lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send(self, answer: WebResponse) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.activation_id is not None:
            self.send_header("x-openwhisk-activation-id", answer.activation_id)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:  # so a keep-alive client does not send on a closed socket
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _WebServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], actions: WebActions) -> None:
        self.actions = actions
        self.log = tool_logger(__name__)
        super().__init__(address, _WebHandler)


class WebActionServer(LoopbackService):
    """The local web-action server; a context manager that starts and stops it."""

    service_name = "the web server"

    def __init__(self, actions: Iterable[LocalAction], namespace: str, *,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 web_actions: WebActions | None = None) -> None:
        """``web_actions``, when given, answers instead of ``actions`` (which are then unused):
        ``--watch`` passes a :class:`tools.local.reload.ReloadingWebActions`."""
        self.web_actions = web_actions if web_actions is not None else WebActions(actions,
                                                                                  namespace)
        self._address = (host, port)

    def _new_server(self) -> _WebServer:
        return _WebServer(self._address, self.web_actions)

    def action_urls(self) -> list[str]:
        """Each web action's URL, then each API route's (``GET http://…/api/club/books``)."""
        served = self.web_actions.actions.values()
        return [*(self.url + self.web_actions.url_path(a) for a in served),
                *route_urls(served, self.url)]
