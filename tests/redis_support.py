"""A real redis-server for the shared token store's tests: on loopback, with a password.

``redis_server`` (session-scoped) is bench.fleet's server, started once for the
run. Without ``redis-server`` on PATH a test that needs it fails under CI
(CI=true), saying how to install it, and is skipped with that message elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from bench.fleet import INSTALL_HINT, redis_store


@dataclass(frozen=True)
class RedisServer:
    port: int
    password: str

    def url(self, db: int = 0, *, user: str = "", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"redis://{user}:{secret}@127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):  # -> redis.Redis
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password)


def require_redis_server() -> str:
    """The redis-server executable, or a failure (CI) or skip (elsewhere) saying how to get it."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(INSTALL_HINT)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with redis_store(require_redis_server()) as url:
        parts = urlsplit(url)
        assert parts.port is not None
        assert parts.password is not None
        yield RedisServer(parts.port, parts.password)


@contextmanager
def misbehaving_store(kind: str) -> Iterator[str]:
    """A loopback "store" that never works: ``refused`` (nothing listens), ``hanging``
    (accepts, never answers) or ``garbage`` (answers what no Redis would). Its URL."""
    if kind == "refused":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        yield f"redis://:pw-refused-store@127.0.0.1:{port}/0"
        return
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.05)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)
            if kind == "garbage":
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n<html>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"redis://:pw-{kind}-store@127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
