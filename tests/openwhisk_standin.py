"""A stateful stand-in for the Apache OpenWhisk controller's REST API (/api/v1), on loopback.

Point deploy.py at it (``argv()`` or ``env()``), deploy, change the manifest, deploy again, then
assert the exact requests (``calls``, ``writes()``) and the final state (``packages``,
``actions``, ``triggers``, ``rules``, ``feeds``). It answers as apache/openwhisk's controller
does (core/controller/src/main/scala/org/apache/openwhisk/core/controller/: Actions.scala,
Packages.scala, Triggers.scala, Rules.scala), including the ways it does not give back what it
was sent: an action GET merges its package's and binding's parameters under its own; the server
adds the ``exec`` and ``provide-api-key`` annotations to actions and ``binding`` to bindings;
limits come back with defaults; action annotations are merged on update, those of the rest
replaced; a rule's state is kept in its trigger; lists page, newest first. Parameters and
annotations come back sorted by key, not in the order sent. The alarms feed actions
(/whisk.system/alarms/alarm, once, interval) run by the rules of apache/openwhisk-package-alarms;
no other action runs, and what one of the namespace's own produces is set by ``on_invoke``.
The parts live in tests/standin/, one subject a module.

    with OpenWhiskStandIn() as ow:
        assert cli.main(["deploy", *ow.argv()]) == 0
        assert [call.brief for call in ow.writes()] == ["PUT packages/demo", ...]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.standin.alarms import AlarmsFeed
from tests.standin.controller import Controller
from tests.standin.fields import as_dict
from tests.standin.runs import Handler, Run
from tests.standin.store import Store
from tests.standin.wire import Call, Json, Reject, Request
from tools.loopback import LoopbackServer, LoopbackService

AUTH = "0b6a0c7e-9d3f-4a51-8f7e-2d1c4b5a6e70:stand-in-key-Q3vN8xYp2LmR5tKw9ZbC"
NAMESPACE = "ns"

__all__ = ["AUTH", "NAMESPACE", "OpenWhiskStandIn", "Reject", "Run", "as_dict"]


class OpenWhiskStandIn(LoopbackService):
    """The controller on a loopback port: a context manager that starts and stops it."""

    service_name = "the stand-in"

    def __init__(self, *, auth: str = AUTH, namespace: str = NAMESPACE,
                 kinds: Mapping[str, Sequence[str]] | None = None) -> None:
        self.auth, self.namespace = auth, namespace
        self.store = Store(namespace, auth)
        if kinds is not None:
            self.store.kinds = {family: tuple(names) for family, names in kinds.items()}
        self.feeds = AlarmsFeed(self.store)
        self.controller = Controller(self.store, self.feeds)
        self.packages, self.actions = self.store.packages, self.store.actions
        self.triggers, self.rules = self.store.triggers, self.store.rules
        self.activations = self.store.activations
        self.calls = self.controller.calls

    def _new_server(self) -> _Server:
        return _Server(self.controller)

    @property
    def apihost(self) -> str:
        return self.url

    def argv(self) -> list[str]:
        """deploy.py's flags for it."""
        return ["--apihost", self.apihost, "--auth", self.auth, "--namespace", self.namespace]

    def env(self) -> dict[str, str]:
        """The AIO_RUNTIME_* variables for it."""
        return {"AIO_RUNTIME_APIHOST": self.apihost, "AIO_RUNTIME_AUTH": self.auth,
                "AIO_RUNTIME_NAMESPACE": self.namespace}

    def names(self, collection: str) -> list[str]:
        """The names in the caller's namespace, sorted: ``["demo/hello", …]`` for actions."""
        prefix = self.namespace + "/"
        with self.controller.lock:
            return sorted(key.removeprefix(prefix) for key in getattr(self.store, collection)
                          if key.startswith(prefix))

    def view(self, collection: str, name: str, **query: str) -> Json:
        """What GET of ``name`` (``demo/hello``) in the caller's namespace answers; else Reject."""
        with self.controller.lock:
            request = Request(self.namespace, name.split("/"), query, {})
            return json.loads(json.dumps(self.controller.apis[collection].get(request)))

    def on_invoke(self, name: str, handler: Handler) -> None:
        """What invoking the action ``name`` (``demo/hello``) produces: a callable of its
        arguments (parameters merged under the body) giving a Run or a result, or either as is."""
        with self.controller.lock:
            self.store.handlers[name] = handler

    @property
    def blocking_window_ms(self) -> int:
        """An invocation with a longer Run.duration answers 202 and ends later."""
        return self.store.blocking_window_ms

    @blocking_window_ms.setter
    def blocking_window_ms(self, value: int) -> None:
        self.store.blocking_window_ms = value

    def writes(self) -> list[Call]:
        """The PUT, POST and DELETE requests, in order."""
        return [call for call in self.calls if call.method in ("PUT", "POST", "DELETE")]

    def calls_to(self, collection: str, method: str | None = None) -> list[Call]:
        return [call for call in self.calls
                if call.collection == collection and method in (None, call.method)]

    def clear_calls(self) -> None:
        with self.controller.lock:
            self.calls.clear()


class _Server(LoopbackServer):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        answer = self.server.controller.answer(self.command, self.path, raw,
                                            self.headers.get("Authorization", ""))
        if isinstance(answer.body, str):
            data, media = answer.body.encode(), "text/plain; charset=UTF-8"
        else:
            data = b"" if answer.body is None else json.dumps(answer.body).encode()
            media = "application/json"
        self.send_response(answer.status)
        self.send_header("Content-Type", media)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve
