"""What the local servers share: a threaded HTTP/1.1 server on loopback that stops cleanly,
and the start/stop lifecycle of whatever runs one.

The Adobe emulator (tools.sandbox), the local web-action server (tools.local)
and the tests' OpenWhisk controller stand-in all run on it, in a background
thread, in tests and on the command line.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


def media_type(content_type: str) -> str:
    """``type/subtype`` in lower case, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server run in the background; :meth:`stop` leaves no thread behind.

    Keep-alive connections would hold their handler threads forever, so the
    server tracks open connections and cuts them when it stops.
    """

    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads
    request_queue_size = 128  # the listen backlog: a burst of connections is not held back
    poll_interval = 0.02  # how soon serve_forever() notices stop()

    def __init__(self, address: tuple[str, int],
                 handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": self.poll_interval},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # its handler closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is not news
            super().handle_error(request, client_address)


_Service = TypeVar("_Service", bound="LoopbackService")


class LoopbackService:
    """Something served by a :class:`LoopbackServer` in the background: ``start``, ``stop``,
    its ``url`` while it runs, and a context manager that does both.

    A subclass says only which server it runs (:meth:`_new_server`) and how it is named in
    errors (``service_name``), so the three local servers share one lifecycle.
    """

    service_name = "the server"
    _server: LoopbackServer | None = None

    def _new_server(self) -> LoopbackServer:
        """A new server, bound but not yet serving."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.service_name} is not running")
        return self._server.url

    def start(self: _Service) -> _Service:
        if self._server is not None:
            raise RuntimeError(f"{self.service_name} is already running")
        self._server = self._new_server()
        self._server.start()
        return self

    def stop(self) -> None:
        """Cut open connections and wait for every handler thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self: _Service) -> _Service:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
