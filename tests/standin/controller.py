"""The controller's routing: each request recorded, authenticated and handed to its collection,
answered as apache/openwhisk's controller answers (errors as ``{"error", "code"}``):
core/controller/src/main/scala/org/apache/openwhisk/core/controller/RestAPIs.scala."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.standin.actions import ActionsApi
from tests.standin.activations import ActivationsApi
from tests.standin.alarms import AlarmsFeed
from tests.standin.apis import APIMGMT, ApiGateway, is_gateway_path
from tests.standin.packages import PackagesApi
from tests.standin.rules import RulesApi
from tests.standin.store import COLLECTIONS, Store
from tests.standin.triggers import TriggersApi
from tests.standin.wire import API, ENTITY_NAME, MALFORMED, Answer, Call, Doc, Json, Reject, Request


class Controller:
    """The REST API over ``store``: one request at a time (``lock``), each kept in ``calls``."""

    def __init__(self, store: Store, feeds: AlarmsFeed) -> None:
        self.store = store
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.apis = {"actions": ActionsApi(store, feeds), "packages": PackagesApi(store),
                     "triggers": TriggersApi(store), "rules": RulesApi(store)}
        self._activations = ActivationsApi(store)
        self.gateway = ApiGateway(store)  # the apimgmt web actions and the API gateway
        self._expected = "Basic " + base64.b64encode(store.auth.encode("latin-1")).decode()

    def answer(self, method: str, target: str, raw: bytes, authorization: str) -> Answer:
        """Records the request and answers it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body, malformed = (json.loads(raw) if raw.strip() else None), None
        except ValueError as exc:
            body, malformed = raw.decode("utf-8", "replace"), str(exc)
        with self.lock:
            self.calls.append(Call(method, parts.path, query, body))
            try:
                if malformed is not None:
                    raise Reject(400, MALFORMED + malformed)
                return self._route(method, parts.path, query, body,
                                   authorization == self._expected)
            except Reject as reject:
                return Answer(reject.status, {"error": reject.message, "code": uuid.uuid4().hex})

    def _route(self, method: str, path: str, query: dict[str, str], body: Json,
               authorized: bool) -> Answer:
        if path == "/" and method == "GET":
            return Answer(200, self._info())
        if path.startswith(APIMGMT):  # web actions: anonymous calls reach them too
            return self.gateway.manage(method, path, query, body, authorized)
        if is_gateway_path(path):
            return self.gateway.call(method, path, query, body)
        if not authorized:
            raise Reject(401, "The supplied authentication is invalid.")
        if path.rstrip("/") == f"{API}/namespaces" and method == "GET":
            return Answer(200, [self.store.namespace])
        segments = path.split("/")
        if segments[1:4] == ["api", "v1", "namespaces"] and len(segments) > 5 \
                and segments[5] == "activations" and method == "GET":
            rest = [unquote(part) for part in segments[6:]]
            if not rest or rest == [""]:
                return Answer(200, self._activations.list(query))
            if len(rest) > 2 or not rest[0]:
                raise Reject(404)
            return Answer(200, self._activations.get(rest[0], rest[1] if len(rest) > 1 else ""))
        if segments[1:4] != ["api", "v1", "namespaces"] or len(segments) < 6 \
                or segments[5] not in COLLECTIONS:
            raise Reject(404)
        namespace = unquote(segments[4])
        collection, names = segments[5], [unquote(part) for part in segments[6:]]
        listing = not names or names[-1] == ""
        names = [name for name in names if name] if listing else names
        request = Request(self.store.namespace if namespace == "_" else namespace, names, query,
                          body if isinstance(body, dict) else {})
        if listing and method == "GET" and len(names) <= (1 if collection == "actions" else 0):
            return Answer(200, self.store.page(collection, request))
        if listing or len(names) > (2 if collection == "actions" else 1):
            raise Reject(404)
        if not all(ENTITY_NAME.match(name) for name in names):
            raise Reject(400, "The name of the entity contains illegal characters.")
        operation = getattr(self.apis[collection], method.lower(), None)
        if method not in ("GET", "PUT", "POST", "DELETE") or operation is None:
            raise Reject(405, "HTTP method not allowed, supported methods: GET, PUT, DELETE")
        invoke = method == "POST" and collection == "actions"
        if request.namespace != self.store.namespace and not (method == "GET" or invoke):
            raise Reject(403, "The supplied authentication is not authorized to access this "
                              "resource.")
        if body is not None and not isinstance(body, dict):
            raise Reject(400, MALFORMED + "Object expected")
        answer = operation(request)
        return answer if isinstance(answer, Answer) else Answer(200, answer)

    def _info(self) -> Doc:
        runtimes = {family: [{"kind": kind, "default": index == 0, "deprecated": False}
                             for index, kind in enumerate(kinds)]
                    for family, kinds in self.store.kinds.items()}
        limits = self.store.limits
        megabyte = 1024 * 1024
        return {"description": "OpenWhisk stand-in", "api_paths": [API], "runtimes": runtimes,
                "limits": {  # as the real controller reports them: ms, and bytes
                    "actions_per_minute": 120, "triggers_per_minute": 60,
                    "concurrent_actions": 100, "sequence_length": 50,
                    "min_action_duration": limits["timeout"][0],
                    "max_action_duration": limits["timeout"][1],
                    "min_action_memory": limits["memory"][0] * megabyte,
                    "max_action_memory": limits["memory"][1] * megabyte,
                    "min_action_logsize": limits["logs"][0] * megabyte,
                    "max_action_logsize": limits["logs"][1] * megabyte}}
