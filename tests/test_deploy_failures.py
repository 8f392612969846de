"""Deploys that fail or are interrupted part-way lose nothing: a rerun completes them.

tests/test_deploy.py checks the exact requests and the report's lines with
`responses`. Here a stateful OpenWhisk controller on loopback keeps what was
PUT, so a test can look at what a failed or interrupted deploy left behind,
and whether running deploy.py again (or undeploy) puts it right.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import pathlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

import deploy as cli
from lib.http import RetryPolicy
from tests.deploy_support import HELLO_ENV, make_project
from tests.test_deploy import AUTH, TWO_ACTIONS
from tools.deploy import operations
from tools.manifest import load_env, load_manifest

NAMESPACE = "ns"
RUNTIMES = {"runtimes": {"python": [{"kind": "python:3.11"}]}}
PACKAGE = "packages/demo"
FIRST_ACTION = "actions/demo/hello"
SECOND_ACTION = "actions/demo/second"
FAST = RetryPolicy(retries=2, backoff=0.001, max_backoff=0.001)


@dataclass(frozen=True)
class Scripted:
    """What the controller does on a request for one entity instead of its normal answer."""

    status: int = 0  # an error answer with this status, unless 0
    error: str = ""
    interrupt: bool = False  # Ctrl-C the deploying process while it waits for the answer
    store_first: bool = False  # with interrupt: keep the entity before the interruption


@dataclass
class FakeOpenWhisk:
    """A controller that keeps entities: PUT stores, DELETE removes, GET / lists runtimes.

    Like OpenWhisk it refuses an action whose package does not exist (404) and a
    package that still holds actions (409), so order matters as it does there.
    """

    auth: str
    url: str = ""
    entities: dict[str, Any] = field(default_factory=dict)  # "packages/demo" -> body
    log: list[tuple[str, str]] = field(default_factory=list)  # (method, entity) as received
    scripts: dict[tuple[str, str], list[Scripted]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, method: str, entity: str, *answers: Scripted) -> None:
        self.scripts.setdefault((method, entity), []).extend(answers)

    def take(self, method: str, entity: str) -> Scripted | None:
        with self.lock:
            self.log.append((method, entity))
            queued = self.scripts.get((method, entity))
            return queued.pop(0) if queued else None

    def put(self, entity: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            if entity.startswith("actions/") and \
                    f"packages/{entity.split('/')[1]}" not in self.entities:
                return 404, {"error": "The requested resource does not exist.", "code": "p1"}
            self.entities[entity] = body
            return 200, {"name": entity.rpartition("/")[2]}

    def get(self, entity: str) -> tuple[int, Any]:
        """An entity as stored, or a collection's list: names, namespaces and annotations."""
        with self.lock:
            if "/" not in entity:
                return 200, [{"name": name.rpartition("/")[2],
                              "namespace": "/".join([NAMESPACE, *name.split("/")[1:-1]]),
                              "annotations": body.get("annotations", [])}
                             for name, body in self.entities.items()
                             if name.startswith(f"{entity}/")]
            if entity not in self.entities:
                return 404, {"error": "The requested resource does not exist.", "code": "g1"}
            return 200, self.entities[entity]

    def delete(self, entity: str) -> tuple[int, Any]:
        with self.lock:
            if entity not in self.entities:
                return 404, {"error": "The requested resource does not exist.", "code": "d1"}
            if entity.startswith("packages/") and any(
                    name.startswith(f"actions/{entity.split('/')[1]}/") for name in self.entities):
                return 409, {"error": "Package not empty (contains 1 entity)", "code": "d2"}
            del self.entities[entity]
            return 200, {}


def _handler(server: FakeOpenWhisk) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(server.auth.encode()).decode()
    prefix = f"/api/v1/namespaces/{NAMESPACE}/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, document: Any) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            sent = self.headers.get("Authorization", "")
            if sent != expected:  # echoing what it was sent, as a careless server might
                shown = base64.b64decode(sent.removeprefix("Basic ")).decode(errors="replace")
                return self.answer(401, {"error": f"The supplied authentication {shown} is "
                                                  "invalid"})
            if self.command == "GET" and parts.path == "/":
                return self.answer(200, RUNTIMES)
            if not parts.path.startswith(prefix):
                return self.answer(404, {"error": "no route"})
            entity = unquote(parts.path[len(prefix):])
            scripted = server.take(self.command, entity)
            if scripted is not None and scripted.interrupt:
                return self.interrupt(entity, json.loads(raw), scripted.store_first)
            if scripted is not None:
                return self.answer(scripted.status, {"error": scripted.error, "code": "s1"})
            if self.command == "PUT":
                assert parse_qs(parts.query) == {"overwrite": ["true"]}
                return self.answer(*server.put(entity, json.loads(raw)))
            if self.command == "DELETE":
                return self.answer(*server.delete(entity))
            if self.command == "GET":
                return self.answer(*server.get(entity))
            return self.answer(405, {"error": "method not allowed"})

        def interrupt(self, entity: str, body: Any, store_first: bool) -> None:
            if store_first:
                server.put(entity, body)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            self.connection.settimeout(10)
            self.rfile.read()  # no answer: wait for the interrupted client to hang up
            self.close_connection = True

        do_GET = do_PUT = do_DELETE = serve

    return Handler


@contextlib.contextmanager
def running(fake: FakeOpenWhisk) -> Iterator[FakeOpenWhisk]:
    """``fake`` served on a loopback port (its ``url``) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def openwhisk() -> Iterator[FakeOpenWhisk]:
    with running(FakeOpenWhisk(AUTH)) as fake:
        yield fake


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            openwhisk: FakeOpenWhisk) -> pathlib.Path:
    """One package and two actions (three entities), the controller's credentials in .env."""
    root = tmp_path / "project"
    make_project(root, TWO_ACTIONS)
    env = {**HELLO_ENV, "AIO_RUNTIME_APIHOST": openwhisk.url, "AIO_RUNTIME_AUTH": AUTH,
           "AIO_RUNTIME_NAMESPACE": NAMESPACE}
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path))
    return root


def complete_deploy(project: pathlib.Path) -> dict[str, Any]:
    """What a deploy that nothing disturbed leaves on a fresh controller."""
    with running(FakeOpenWhisk(AUTH)) as clean:
        env = {**load_env(project / ".env"), "AIO_RUNTIME_APIHOST": clean.url}
        manifest = load_manifest(project / "manifest.yaml", env)
        assert operations.deploy(manifest, env, out=io.StringIO()) == 0
    return clean.entities


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_a_refusal_of_the_second_entity_is_reported_and_a_rerun_completes(
        project: pathlib.Path, openwhisk: FakeOpenWhisk,
        capsys: pytest.CaptureFixture[str]) -> None:
    openwhisk.script("PUT", FIRST_ACTION,
                     Scripted(409, "Concurrent modification to resource detected"))

    status, out, _ = run(capsys, "deploy")

    assert status == 1
    assert out[1:] == [
        "  created   package demo",
        "  FAILED    action demo/hello: HTTP 409: Concurrent modification to resource detected "
        "(code s1)",
        "Deploy failed.",
        "  done:          package demo",
        "  failed:        action demo/hello: HTTP 409: Concurrent modification to resource "
        "detected (code s1)",
        "  not attempted: action demo/second",
    ]
    assert list(openwhisk.entities) == [PACKAGE]
    assert ("PUT", SECOND_ACTION) not in openwhisk.log

    status, out, _ = run(capsys, "deploy")

    assert status == 0
    assert out[-1] == "Deployed project project: 1 unchanged, 0 updated, 2 created, 0 pruned."
    assert openwhisk.entities == complete_deploy(project)


def test_a_server_failing_after_retries_is_reported_with_its_status_and_message(
        project: pathlib.Path, openwhisk: FakeOpenWhisk) -> None:
    openwhisk.script("PUT", FIRST_ACTION, *[Scripted(503, "Service Unavailable")] * 3)
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)
    out = io.StringIO()

    status = operations.deploy(manifest, env, operations.Options(retry=FAST), out)

    assert status == 1
    assert openwhisk.log.count(("PUT", FIRST_ACTION)) == 3  # the first try and two retries
    assert out.getvalue().splitlines()[-3:] == [
        "  done:          package demo",
        "  failed:        action demo/hello: HTTP 503: Service Unavailable (code s1)",
        "  not attempted: action demo/second",
    ]
    assert operations.deploy(manifest, env, operations.Options(retry=FAST), io.StringIO()) == 0
    assert set(openwhisk.entities) == {PACKAGE, FIRST_ACTION, SECOND_ACTION}


@pytest.mark.parametrize("store_first", [False, True], ids=["action-not-stored",
                                                             "action-stored"])
def test_an_interruption_between_package_and_action_is_fixed_by_a_rerun(
        project: pathlib.Path, openwhisk: FakeOpenWhisk, capsys: pytest.CaptureFixture[str],
        store_first: bool) -> None:
    """Ctrl-C while the first action's PUT is in flight, whether or not the server kept it."""
    openwhisk.script("PUT", FIRST_ACTION, Scripted(interrupt=True, store_first=store_first))

    status, out, err = run(capsys, "deploy")

    assert status == 130
    assert err == "deploy.py deploy: error: interrupted\n"
    assert out[-3:] == [
        "  done:          package demo",
        "  failed:        action demo/hello: interrupted (it may or may not have been stored; "
        "run deploy again)",
        "  not attempted: action demo/second",
    ]
    assert set(openwhisk.entities) == ({PACKAGE, FIRST_ACTION} if store_first else {PACKAGE})

    status, out, _ = run(capsys, "deploy")  # the same process: its connection pool survived

    assert status == 0
    unchanged, created = (2, 1) if store_first else (1, 2)
    assert out[-1] == (f"Deployed project project: {unchanged} unchanged, 0 updated, "
                       f"{created} created, 0 pruned.")
    assert openwhisk.entities == complete_deploy(project)


def test_an_interrupted_deploy_can_also_be_undeployed(
        project: pathlib.Path, openwhisk: FakeOpenWhisk,
        capsys: pytest.CaptureFixture[str]) -> None:
    openwhisk.script("PUT", FIRST_ACTION, Scripted(interrupt=True))
    assert run(capsys, "deploy")[0] == 130

    status, out, _ = run(capsys, "undeploy")

    assert status == 0
    assert out[1:] == [
        "  absent  action demo/hello (already gone)",
        "  absent  action demo/second (already gone)",
        "  deleted package demo",
        "Undeployed: 1 deleted, 2 already gone.",
    ]
    assert openwhisk.entities == {}
