"""The local web-action server: ``python -m actions.<name> --serve``.

One JSON log line per request; the query is never logged (it may hold secrets).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from lib.log import fields
from lib.web import MAX_PAYLOAD_BYTES
from tools.local.runner import LocalAction, tool_logger
from tools.local.web_actions import WebActions
from tools.local.web_types import WebRequest, WebResponse, error_answer
from tools.loopback import LoopbackServer

DEFAULT_PORT = 9080


class _WebHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _WebServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one JSON line per request is written by _serve instead

    def _serve(self) -> None:
        started = time.monotonic()
        length = self.headers.get("Content-Length", "0")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
            answer = error_answer(411, "Send the body with a valid Content-Length.")
            self.close_connection = True
        elif int(length) > MAX_PAYLOAD_BYTES:  # refused before reading: the body is never held
            answer = error_answer(413, f"Request larger than allowed: {length} > "
                                       f"{MAX_PAYLOAD_BYTES} bytes.")
            self.close_connection = True
        else:
            body = self.rfile.read(int(length)) if int(length) > 0 else b""
            request = WebRequest(self.command, self.path, self._lower_headers(), body)
            answer = self.server.actions.respond(request)
        path = urlsplit(self.path).path  # the query may hold secrets: never logged
        self.server.log.info(
            "%s %s %d %d ms", self.command, path, answer.status,
            int((time.monotonic() - started) * 1000),
            extra=fields(method=self.command, path=path, status=answer.status,
                         activation_id=answer.activation_id))
        self._send(answer)  # after the log line, so it is written before the client moves on

    def _lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send(self, answer: WebResponse) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.activation_id is not None:
            self.send_header("x-openwhisk-activation-id", answer.activation_id)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _WebServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], actions: WebActions) -> None:
        self.actions = actions
        self.log = tool_logger(__name__)
        super().__init__(address, _WebHandler)


class WebActionServer:
    """The local web-action server; a context manager that starts and stops it."""

    def __init__(self, actions: Iterable[LocalAction], namespace: str, *,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.web_actions = WebActions(actions, namespace)
        self._address = (host, port)
        self._server: _WebServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the web server is not running")
        return self._server.url

    def action_urls(self) -> list[str]:
        return [self.url + self.web_actions.url_path(a) for a in self.web_actions.actions.values()]

    def start(self) -> WebActionServer:
        self._server = _WebServer(self._address, self.web_actions)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> WebActionServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
