"""deploy.py's transport: a deadline on every request, TLS failures said as such, and the
developer's CA bundle and proxy honoured (the action itself keeps ignoring the environment)."""

from __future__ import annotations

import http.server
import json
import pathlib
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench.tool_faults import HeaderTrickler
from tests.deploy_support import closed_port
from tools.deploy.client import RETRIES, Call, Client, OpenWhiskError
from tools.deploy.credentials import Credentials
from tools.loopback import LoopbackServer

AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:transport-key-0123456789"
RUNTIMES = {"runtimes": {"python": [{"kind": "python:3.11"}]}}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.requestline)
        body = json.dumps(RUNTIMES).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if not self.server.trickle else 10**6))
        self.end_headers()
        if not self.server.trickle:
            self.wfile.write(body)
            return
        for _ in range(200):  # a byte every 0.1 s: each read is quick, the whole is not
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)


class _Server(LoopbackServer):
    def __init__(self, trickle: bool = False) -> None:
        self.seen: list[str] = []
        self.trickle = trickle
        super().__init__(("127.0.0.1", 0), _Handler)


@pytest.fixture
def served() -> Iterator[_Server]:
    server = _Server()
    server.start()
    yield server
    server.stop()


def client(apihost: str, **kwargs: Any) -> Client:
    return Client(Credentials(apihost, AUTH, "ns", "test"), **kwargs)


def test_a_server_that_trickles_cannot_hold_a_request_past_its_deadline() -> None:
    server = _Server(trickle=True)
    server.start()
    try:
        started = time.monotonic()
        with pytest.raises(OpenWhiskError, match="did not finish its answer in time"):
            client(server.url, request_seconds=1.5).send(Call("GET", "/"), "checking")
        assert time.monotonic() - started < 10  # the trickle alone would take 20 s
    finally:
        server.stop()


def test_a_server_that_trickles_its_headers_is_cut_off_at_the_deadline_too() -> None:
    server = LoopbackServer(("127.0.0.1", 0), HeaderTrickler)  # the fault table's own
    server.start()
    try:
        started = time.monotonic()
        with pytest.raises(OpenWhiskError, match=r"did not (answer within|finish its answer)"):
            client(server.url, request_seconds=1.5).send(Call("GET", "/"), "checking")
        assert time.monotonic() - started < 10  # each byte comes well within the read timeout
    finally:
        server.stop()


def test_the_deadline_is_30_seconds_by_default(served: _Server) -> None:
    assert client(served.url).request_seconds == 30


def self_signed(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",  # noqa: S607
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_server(tmp_path: pathlib.Path) -> Iterator[tuple[_Server, pathlib.Path]]:
    cert, key = self_signed(tmp_path)
    server = _Server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    yield server, cert
    server.stop()


def test_a_tls_failure_says_so_names_the_host_and_how_to_trust_a_ca(
        tls_server: tuple[_Server, pathlib.Path], monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    url = server.url.replace("http://", "https://")
    with pytest.raises(OpenWhiskError) as caught:
        client(url, policy=RETRIES._replace(retries=0)).send(Call("GET", "/"),
                                                             "checking the server")
    message = str(caught.value)
    assert "TLS with 127.0.0.1 failed" in message
    assert "REQUESTS_CA_BUNDLE or SSL_CERT_FILE" in message
    assert AUTH.partition(":")[2] not in message


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_private_ca_is_trusted_through_the_environment(
        tls_server: tuple[_Server, pathlib.Path], monkeypatch: pytest.MonkeyPatch,
        variable: str) -> None:
    server, cert = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(cert))
    answer = client(server.url.replace("http://", "https://")).send(Call("GET", "/"), "check")
    assert answer.status == 200


def test_a_proxy_from_the_environment_is_used_and_no_proxy_bypasses_it(
        served: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = _Server()  # answers the proxied request itself, as the recording shows
    proxy.start()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert client(served.url).send(Call("GET", "/"), "check").status == 200
        assert proxy.seen == [f"GET {served.url}/ HTTP/1.1"]  # an absolute URI: proxied
        assert served.seen == []

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert client(served.url).send(Call("GET", "/"), "check").status == 200
        assert served.seen == ["GET / HTTP/1.1"]
    finally:
        proxy.stop()


def test_the_action_s_http_still_ignores_proxies_and_ca_bundles(
        served: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from lib import http as action_http
    from lib.deadline import Deadline

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent.pem")
    answer = action_http.request("GET", served.url + "/", service="X", deadline=Deadline())
    assert answer.status == 200
    assert served.seen == ["GET / HTTP/1.1"]


class _SlowReader(http.server.BaseHTTPRequestHandler):
    """Reads a request body at about 6 MB/s, then answers 200."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 256 * 1024)))
            time.sleep(0.04)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_a_large_upload_may_take_longer_than_connecting_does() -> None:
    server = LoopbackServer(("127.0.0.1", 0), _SlowReader)
    server.start()
    try:
        # About 6 s to send at the server's pace, past what socket buffers hold and past the
        # 3 s a connection may take: the upload is given time of its own.
        body = {"exec": {"code": "A" * 40_000_000}}
        answer = client(server.url).send(Call("PUT", "/api/v1/x", {}, body), "uploading")
        assert answer.status == 200
    finally:
        server.stop()
