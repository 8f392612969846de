"""A stateful stand-in for the Apache OpenWhisk controller's REST API (/api/v1), on loopback.

Point deploy.py at it (``argv()`` or ``env()``), deploy, change the manifest, deploy again, then
assert the exact requests (``calls``, ``writes()``) and the final state (``packages``,
``actions``, ``triggers``, ``rules``, ``feeds``). It answers as apache/openwhisk's controller
does (Actions.scala, Packages.scala, Triggers.scala, Rules.scala), including the ways it does not
give back what it was sent (../shared/reference/openwhisk.md section 7): an action GET merges its
package's and binding's parameters under its own; the server adds the ``exec`` and
``provide-api-key`` annotations to actions and ``binding`` to bindings; limits come back with
defaults; action annotations are merged on update, those of the rest replaced; a rule's state is
kept in its trigger; lists page, newest first. Parameters and annotations come back sorted by key,
not in the order sent. The alarms feed actions (/whisk.system/alarms/alarm, once, interval) run
by the rules of openwhisk-package-alarms; no other action runs.

    with OpenWhiskStandIn() as ow:
        assert cli.main(["deploy", *ow.argv()]) == 0
        assert [call.brief for call in ow.writes()] == ["PUT packages/demo", ...]
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.loopback import LoopbackServer

AUTH = "0b6a0c7e-9d3f-4a51-8f7e-2d1c4b5a6e70:stand-in-key-Q3vN8xYp2LmR5tKw9ZbC"
NAMESPACE = "ns"
SYSTEM = "whisk.system"
API = "/api/v1"
KINDS = {"python": ("python:3.10", "python:3.11"), "nodejs": ("nodejs:20",)}  # first: default
LIMITS = {  # field: (min, max, default, what, unit) of stock OpenWhisk
    "timeout": (100, 300_000, 60_000, "duration", "milliseconds"),
    "memory": (128, 512, 256, "memory", "MB"),
    "logs": (0, 10, 10, "log size", "MB"),
    "concurrency": (1, 1, 1, "concurrency", ""),
}
LIST_LIMIT, MAX_LIST_LIMIT, MAX_SEQUENCE = 30, 200, 50
COLLECTIONS = ("actions", "packages", "triggers", "rules")
FEEDS = {"alarm": "cron", "once": "date", "interval": "minutes"}  # feed action: required input
NOT_FOUND = "The requested resource does not exist."
MALFORMED = "The request content was malformed:\n"
CONFORMANCE = "Resource by this name exists but is not in this collection."
_NAME = re.compile(r"\A(\w|\w[\w@ .-]*[\w@.-]+)\Z", re.ASCII)  # EntityName, as Java reads \w
_BASE64 = re.compile(r"\A([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|"
                     r"[A-Za-z0-9+/]{2}==)\Z")

Json = Any
Doc = dict[str, Any]
Entries = dict[str, dict[str, Any]]  # parameters or annotations by key: {"key", "value"[, "init"]}


class Reject(Exception):
    """An error answer, ``{"error": message, "code": <transaction id>}``."""

    def __init__(self, status: int, message: str = NOT_FOUND) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json = None  # JSON; a str goes as text/plain, None as no body
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One request as received: ``path`` as sent (percent-encoded), ``body`` as parsed JSON."""

    method: str
    path: str
    query: dict[str, str]
    body: Json

    @property
    def collection(self) -> str:
        """``actions``, ``packages``, ``triggers``, ``rules``; "" for other paths."""
        parts = self.path.split("/")
        return parts[5] if len(parts) > 5 and parts[1:4] == ["api", "v1", "namespaces"] else ""

    @property
    def name(self) -> str:
        """The entity, unquoted: ``demo/hello``."""
        return "/".join(unquote(part) for part in self.path.split("/")[6:])

    @property
    def brief(self) -> str:
        """``PUT actions/demo/hello``; ``GET /`` for other paths."""
        if not self.collection:
            return f"{self.method} {self.path}"
        return f"{self.method} {self.collection}/{self.name}".rstrip("/")


@dataclass(frozen=True)
class Request:
    """One REST operation on an entity: ``names`` is ``[name]`` or, for actions, ``[pkg, name]``."""

    namespace: str
    names: list[str]
    query: Mapping[str, str]
    body: Doc

    @property
    def docid(self) -> str:
        return "/".join((self.namespace, *self.names))

    def flag(self, name: str, default: str = "false") -> bool:
        return self.query.get(name, default).lower() == "true"


@dataclass(frozen=True)
class FeedInvocation:
    feed: str  # "whisk.system/alarms/alarm", whichever binding it was reached through
    body: Doc  # as POSTed: lifecycleEvent, triggerName, authKey, the feed's inputs
    args: Doc  # what the feed ran with: the package's and binding's parameters under the body


STATUS_CODES = {"success": 0, "application error": 1, "action developer error": 2,
                "whisk internal error": 3}
PENDING_GETS = 2  # GETs of an activation answered 404 before one past the blocking window ends


@dataclass(frozen=True)
class Run:
    """What one invocation of an action produced (the stand-in runs no user code): ``logs`` as
    OpenWhisk stores them (a line without the ``<time> stdout: `` prefix gets one), ``status``
    one of STATUS_CODES, ``duration`` in ms. ``late``: list requests after it ended that do not
    show it yet (the list is eventually consistent). ``pending``: GETs of it answered 404 before
    it ends (None: PENDING_GETS when ``duration`` outlives the blocking window, else 0)."""

    result: Json = field(default_factory=dict)
    logs: Sequence[str] = ()
    status: str = "success"
    duration: int = 5
    late: int = 0
    pending: int | None = None


Handler = Callable[[Doc], "Run | Doc"] | Run | Doc  # a callable of the arguments, or canned


def log_line(text: str, start_ms: int, stream: str = "stdout") -> str:
    """``2024-01-01T00:00:00.000Z stdout: text``, as OpenWhisk stores an activation's log."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start_ms / 1000))
    return f"{stamp}.{start_ms % 1000:03d}Z {stream}: {text}"


_LOG_PREFIX = re.compile(r"\A\d{4}-\d\d-\d\dT\S+ (stdout|stderr): ")


def as_dict(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``[{key, value}, …]`` (parameters, annotations) as ``{key: value}``."""
    return {entry["key"]: entry["value"] for entry in entries}


def _entries(doc: Doc | None, name: str) -> Entries:
    return {entry["key"]: entry for entry in doc[name]} if doc else {}


def _listed(entries: Entries) -> list[dict[str, Any]]:
    return [entries[key] for key in sorted(entries)]


def _note(key: str, value: Json) -> dict[str, Any]:
    return {"key": key, "value": value}


def _parse_entries(body: Doc, name: str) -> Entries | None:
    """Parameters or annotations as Parameter.scala reads them; None when absent."""
    if name not in body:
        return None
    value, read = body[name], {}
    for item in value if isinstance(value, list) else [None]:
        if not (isinstance(item, dict) and isinstance(item.get("key"), str) and "value" in item
                and isinstance(item.get("init", False), bool)):
            raise Reject(400, f"{MALFORMED}parameters malformed could not read directly: "
                              f"{json.dumps(value)}")
        read[item["key"]] = {**_note(item["key"], item["value"]),
                             **({"init": True} if item.get("init") else {})}
    return read


def _parse_publish(body: Doc, old: Doc | None) -> bool:
    publish = body.get("publish", old["publish"] if old else False)
    if not isinstance(publish, bool):
        raise Reject(400, f"{MALFORMED}Expected Boolean as JsBoolean, but got {publish!r}")
    return publish


def _parse_limits(body: Doc) -> dict[str, int]:
    given, read = body.get("limits") or {}, {}
    if not isinstance(given, dict):
        raise Reject(400, f"{MALFORMED}limits malformed")
    for name, value in given.items():
        if name not in LIMITS:
            continue
        low, high, _, what, unit = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise Reject(400, f"{MALFORMED}{name} limit must be whole number")
        if not low <= int(value) <= high:
            side, bound = ("below", low) if value < low else ("exceeds", high)
            raise Reject(400, f"{MALFORMED}{what} {int(value)} {unit} {side} allowed threshold of "
                              f"{bound} {unit}".replace("  ", " ").rstrip())
        read[name] = int(value)
    return read


def _fqn(name: Json, namespace: str) -> list[str]:
    """``/ns/pkg/a`` as ``[ns, pkg, a]`` (``pkg/a`` reads as namespace ``pkg``); ``_`` resolved."""
    parts = name.strip().lstrip("/").split("/") if isinstance(name, str) else []
    if not 2 <= len(parts) <= 3 or not all(_NAME.match(part) for part in parts):
        raise Reject(400, MALFORMED + "The fully qualified name of the entity must contain at "
                                      "least the namespace and the name of the entity.")
    return [namespace if parts[0] == "_" else parts[0], *parts[1:]]


def _path(fqn: Mapping[str, str]) -> str:
    """``ns/pkg/a`` from ``{"path": "ns/pkg", "name": "a"}`` (or ``{namespace, name}``)."""
    return f"{fqn.get('path') or fqn['namespace']}/{fqn['name']}"


class Store:
    """The entities, each keyed ``ns/[pkg/]name`` as OpenWhisk's document ids are."""

    def __init__(self, namespace: str, auth: str) -> None:
        self.namespace, self.auth = namespace, auth
        self.kinds: dict[str, tuple[str, ...]] = dict(KINDS)
        self.packages: dict[str, Doc] = {}
        self.actions: dict[str, Doc] = {}
        self.triggers: dict[str, Doc] = {}
        self.rules: dict[str, Doc] = {}
        # Activations by id: {"doc": the record, "pending": GETs left answering 404, "late":
        # list requests left that do not show it}; handlers by action name ("pkg/action").
        self.activations: dict[str, dict[str, Any]] = {}
        self.handlers: dict[str, Handler] = {}
        self.blocking_window_ms = 60_000
        self._clock = 0
        self._install_alarms()

    def now(self) -> int:
        """Epoch ms for ``updated``, strictly increasing so that lists have one order."""
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def find(self, collection: str, docid: str) -> Doc:
        doc = getattr(self, collection).get(docid)
        if doc is None:  # triggers, rules, packages and actions share one name space
            raise Reject(409, CONFORMANCE) if self.elsewhere(collection, docid) else Reject(404)
        return doc

    def elsewhere(self, collection: str, docid: str) -> bool:
        return any(docid in getattr(self, other) for other in COLLECTIONS if other != collection)

    def put(self, collection: str, path: str, name: str, overwrite: bool,
            make: Callable[[Doc | None], Doc]) -> Doc:
        """WriteOps.putEntity: ``make(old)`` (None on create) gives the new fields."""
        docid, store = f"{path}/{name}", getattr(self, collection)
        old = store.get(docid)
        if old is None and self.elsewhere(collection, docid):
            raise Reject(409, CONFORMANCE)
        if old is not None and not overwrite:
            raise Reject(409, "resource already exists")
        major, minor, patch = old["version"].split(".") if old else ("0", "0", "0")
        store[docid] = {"namespace": path, "name": name, **make(old),
                        "version": f"{major}.{minor}.{int(patch) + 1}", "updated": self.now()}
        return store[docid]

    def resolve_action(self, namespace: str, names: Sequence[str]) -> tuple[Doc, Entries]:
        """The action ``ns/[pkg/]name``, through a binding, and its parameters merged: the
        package's, the binding's over them, its own over both (resolveActionAndMergeParameters)."""
        path, inherited = namespace, {}
        if len(names) == 2:
            package = self.find("packages", f"{namespace}/{names[0]}")
            path, inherited = f"{namespace}/{names[0]}", _entries(package, "parameters")
            if package["binding"]:
                path = _path(package["binding"])
                inherited = {**_entries(self.find("packages", path), "parameters"), **inherited}
        action = self.find("actions", f"{path}/{names[-1]}")
        return action, {**inherited, **_entries(action, "parameters")}

    def rule_status(self, rule: Doc) -> str:
        """"active" or "inactive" as the rule's trigger has it; inactive if it has none."""
        trigger = self.triggers.get(_path(rule["trigger"])) or {}
        entry = trigger.get("rules", {}).get(f"{rule['namespace']}/{rule['name']}")
        return entry["status"] if entry else "inactive"

    def link(self, trigger_id: str, rule_id: str, entry: Doc | None) -> None:
        """Sets (None: removes) a rule's entry in its trigger, if the trigger exists."""
        trigger = self.triggers.get(trigger_id)
        if trigger is not None:
            rules = trigger.setdefault("rules", {})
            rules.pop(rule_id, None)
            if entry is not None:
                rules[rule_id] = entry
            trigger["updated"] = self.now()

    def page(self, collection: str, request: Request) -> list[Doc]:
        """A page of a namespace's entities (or, for ``actions/pkg/``, a package's), newest
        first, without parameters or code."""
        limit, skip = _window(request.query, collection)
        if request.names:
            package = self.find("packages", request.docid)
            path = _path(package["binding"]) if package["binding"] else request.docid
            docs = [doc for doc in self.actions.values() if doc["namespace"] == path]
        else:
            docs = [doc for doc in getattr(self, collection).values()
                    if doc["namespace"].split("/")[0] == request.namespace]
        docs.sort(key=lambda doc: doc["updated"], reverse=True)
        return [_summary(collection, doc) for doc in docs[skip:skip + limit]]

    def _install_alarms(self) -> None:
        path = f"{SYSTEM}/alarms"
        self.packages[path] = {
            "namespace": SYSTEM, "name": "alarms", "binding": {}, "parameters": [],
            "annotations": [_note("description", "Alarms and periodic utility")],
            "publish": True, "version": "0.0.1", "updated": self.now()}
        for feed in FEEDS:
            self.actions[f"{path}/{feed}"] = {
                "namespace": path, "name": feed, "parameters": [], "publish": True,
                "exec": {"kind": "nodejs:20", "code": "// the stand-in's feed", "binary": False},
                "limits": {name: spec[2] for name, spec in LIMITS.items()}, "version": "0.0.1",
                "annotations": [_note("exec", "nodejs:20"), _note("feed", True)],
                "updated": self.now()}



def _window(query: Mapping[str, str], collection: str) -> tuple[int, int]:
    """``limit`` (30 by default, 0 means 200, at most 200) and ``skip``."""
    def number(name: str, default: int) -> int:
        text = query.get(name, str(default))
        try:
            value = int(text)
        except ValueError:
            raise Reject(400, f"The query parameter '{name}' was malformed:\nThe value '{text}' "
                              f"is not an integer for {collection}.") from None
        if name == "limit" and not 0 <= value <= MAX_LIST_LIMIT:
            raise Reject(400, f"The query parameter 'limit' was malformed:\nThe value '{value}' "
                              f"is not in the range of 0 to {MAX_LIST_LIMIT} for {collection}.")
        if value < 0:
            raise Reject(400, f"The query parameter 'skip' was malformed:\nThe value '{value}' "
                              f"is not greater than or equal to 0 for {collection}.")
        return value
    return number("limit", LIST_LIMIT) or MAX_LIST_LIMIT, number("skip", 0)


def _summary(collection: str, doc: Doc) -> Doc:
    """A list entry: rules whole, the rest as the database views give them."""
    if collection == "rules":
        return dict(doc)
    summary = {key: doc[key] for key in ("namespace", "name", "version", "publish",
                                         "annotations", "updated")}
    if collection == "actions":
        summary.update(limits=doc["limits"], exec={"binary": doc["exec"].get("binary", False)})
    if collection == "packages":
        summary["binding"] = doc["binding"] or False
    return summary


class ActionsApi:
    """Actions.scala: PUT, GET, DELETE and POST (invoke) of ``actions/[pkg/]name``."""

    def __init__(self, store: Store, feeds: AlarmsFeed) -> None:
        self.store, self.feeds = store, feeds

    def get(self, request: Request) -> Doc:
        action, parameters = self.store.resolve_action(request.namespace, request.names)
        shown = {**action, "parameters": _listed(parameters)}
        if not request.flag("code", "true"):
            shown["exec"] = {key: value for key, value in action["exec"].items() if key != "code"}
        return shown

    def put(self, request: Request) -> Doc:
        path, body = self._package_path(request), request.body
        docid = f"{path}/{request.names[-1]}"
        given = self._parse_exec(body["exec"]) if "exec" in body else None
        parameters = _parse_entries(body, "parameters")
        annotations = _parse_entries(body, "annotations") or {}
        limits, dropped = _parse_limits(body), body.get("delAnnotations") or []
        if not isinstance(dropped, list) or not all(isinstance(key, str) for key in dropped):
            raise Reject(400, f"{MALFORMED}delAnnotations must be an array of strings")

        def make(old: Doc | None) -> Doc:
            if old is None and given is None:
                raise Reject(400, "exec undefined")
            exec_ = given if given is not None else old["exec"]
            was_sequence = old is not None and old["exec"]["kind"] == "sequence"
            if given is not None and given["kind"] == "sequence":  # parameters: "_actions" only
                self._check_sequence(docid, given["components"])
                kept = {"_actions": _note("_actions", given["components"])}
            elif was_sequence and given is None:
                kept = _entries(old, "parameters")
            elif parameters is not None:  # replaced as a whole
                kept = parameters
            else:
                kept = {} if was_sequence else _entries(old, "parameters")
            if old is None:  # amendAnnotations: provide-api-key on create, exec always
                notes = {"provide-api-key": _note("provide-api-key", False), **annotations}
            else:  # merged, less delAnnotations
                notes = {key: note for key, note in _entries(old, "annotations").items()
                         if key not in dropped}
                notes.update(annotations)
            notes["exec"] = _note("exec", exec_["kind"])
            base = old["limits"] if old else {name: spec[2] for name, spec in LIMITS.items()}
            return {"exec": exec_, "parameters": _listed(kept), "limits": {**base, **limits},
                    "publish": _parse_publish(body, old), "annotations": _listed(notes)}

        return self.store.put("actions", path, request.names[-1], request.flag("overwrite"), make)

    def delete(self, request: Request) -> Doc:
        docid = f"{self._package_path(request)}/{request.names[-1]}"
        self.store.find("actions", docid)
        return self.store.actions.pop(docid)

    def post(self, request: Request) -> Answer:
        """Invokes: only the alarms feed actions run; any other answers an application error."""
        action, parameters = self.store.resolve_action(request.namespace, request.names)
        annotations, body = as_dict(action["annotations"]), request.body
        path = f"{action['namespace']}/{action['name']}"
        if "feed" in annotations and action["namespace"] == f"{SYSTEM}/alarms":
            success, result = self.feeds.run(path, body, {**as_dict(parameters.values()), **body})
        elif action["namespace"].split("/")[0] == self.store.namespace:
            return self._run(request, action, {**as_dict(parameters.values()), **body})
        else:
            success, result = False, {"error": "The OpenWhisk stand-in runs only feed actions."}
        now, activation_id = self.store.now(), uuid.uuid4().hex
        headers = {"x-openwhisk-activation-id": activation_id}
        if not request.flag("blocking"):
            return Answer(202, {"activationId": activation_id}, headers)
        response = {"status": "success" if success else "application error",
                    "statusCode": 0 if success else 1, "success": success, "result": result}
        activation = {
            "namespace": self.store.namespace, "name": action["name"], "subject": "stand-in",
            "version": action["version"], "activationId": activation_id, "start": now,
            "end": now, "duration": 0, "statusCode": response["statusCode"],
            "response": response, "logs": [], "publish": False,
            "annotations": [_note("path", path), _note("kind", action["exec"]["kind"])]}
        return Answer(200 if success else 502, result if request.flag("result") else activation,
                      headers)

    def _run(self, request: Request, action: Doc, args: Doc) -> Answer:
        """An invocation of one of the namespace's actions, as its registered handler says
        (none: an application error), recorded as an activation."""
        path = f"{action['namespace']}/{action['name']}"
        name = path.partition("/")[2]
        handler = self.store.handlers.get(name)
        if handler is None:
            run = Run({"error": "The OpenWhisk stand-in runs only feed actions."},
                      status="application error")
        else:
            produced = handler(dict(args)) if callable(handler) else handler
            run = produced if isinstance(produced, Run) else Run(produced)
        if run.status not in STATUS_CODES:
            raise ValueError(f"unknown activation status {run.status!r}")
        start, activation_id = self.store.now(), uuid.uuid4().hex
        blocking = request.flag("blocking")
        outlives = blocking and run.duration > self.store.blocking_window_ms
        pending = run.pending if run.pending is not None else PENDING_GETS if outlives else 0
        code = STATUS_CODES[run.status]
        response = {"status": run.status, "statusCode": code, "success": code == 0,
                    "result": run.result}
        activation = {
            "namespace": self.store.namespace, "name": action["name"], "subject": "stand-in",
            "version": action["version"], "activationId": activation_id, "start": start,
            "end": start + run.duration, "duration": run.duration, "statusCode": code,
            "response": response, "publish": False,
            "logs": [line if _LOG_PREFIX.match(line) else log_line(line, start)
                     for line in run.logs],
            "annotations": [_note("path", path), _note("kind", action["exec"]["kind"]),
                            _note("limits", action["limits"])]}
        self.store.activations[activation_id] = {"doc": activation, "pending": pending,
                                                 "late": run.late}
        headers = {"x-openwhisk-activation-id": activation_id}
        if not blocking or outlives:
            return Answer(202, {"activationId": activation_id}, headers)
        status = 200 if code == 0 else 502 if code in (1, 2) else 500
        return Answer(status, run.result if request.flag("result") else activation, headers)

    def _package_path(self, request: Request) -> str:
        """Where an action is written: its package must exist and not be a binding."""
        if len(request.names) == 1:
            return request.namespace
        package = self.store.find("packages", f"{request.namespace}/{request.names[0]}")
        if package["binding"]:
            raise Reject(400, "Operation not permitted on package binding.")
        return f"{request.namespace}/{request.names[0]}"

    def _parse_exec(self, value: Json) -> Doc:
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            raise Reject(400, MALFORMED + "'kind' must be a string defined in 'exec'")
        kind, kinds = value["kind"].strip().lower(), self.store.kinds
        if kind == "sequence":
            components = value.get("components")
            if not isinstance(components, list):
                raise Reject(400, MALFORMED + "'components' must be an array")
            return {"kind": kind, "components": [
                "/" + "/".join(_fqn(name, self.store.namespace)) for name in components]}
        family, _, version = kind.partition(":")
        if version == "default" and kinds.get(family):
            kind = kinds[family][0]
        elif not any(kind in listed for listed in kinds.values()):
            valid = "', '".join(sorted({k for listed in kinds.values() for k in listed}
                                       | {"sequence"}))
            raise Reject(400, f"{MALFORMED}The specified runtime '{kind}' is not supported by "
                              f"this platform. Valid values are: '{valid}'.")
        code, main = value.get("code"), value.get("main")
        if not isinstance(code, str):
            raise Reject(400, f"{MALFORMED}'code' must be a string defined in 'exec' for "
                              f"'{kind}' actions")
        if main is not None and not isinstance(main, str):
            raise Reject(400, f"{MALFORMED}if defined, 'main' be a string in 'exec' for '{kind}' "
                              "actions")
        text = code.strip()  # the server decides "binary" itself
        binary = bool(text) and len(text) % 4 == 0 and bool(_BASE64.match(text))
        return {"kind": kind, "code": code, "binary": binary,
                **({"main": main} if main is not None else {})}

    def _check_sequence(self, docid: str, components: list[str]) -> None:
        if not components:
            raise Reject(400, "No component specified for the sequence.")
        if self._atomic_actions(docid, components) > MAX_SEQUENCE:
            raise Reject(400, "Too many actions in the sequence.")

    def _atomic_actions(self, docid: str, components: list[str]) -> int:
        """How many actions the sequence runs, its inner sequences inlined."""
        count = 0
        for component in components:
            parts = component.lstrip("/").split("/")
            if "/".join(parts) == docid:
                raise Reject(400, "Sequence may not refer to itself.")
            try:
                action = self.store.resolve_action(parts[0], parts[1:])[0]
            except Reject:
                raise Reject(400, "Sequence component does not exist.") from None
            if f"{action['namespace']}/{action['name']}" == docid:
                raise Reject(400, "Sequence may not refer to itself.")
            inner = action["exec"].get("components")
            count += self._atomic_actions(docid, inner) if inner is not None else 1
        return count


class PackagesApi:
    """Packages.scala: PUT, GET and DELETE of ``packages/name``, bindings included."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        package = self.store.find("packages", request.docid)
        shown, source = dict(package), package
        if package["binding"]:  # mergePackageWithBinding: the binding's parameters win
            source = self.store.find("packages", _path(package["binding"]))
            shown["parameters"] = _listed({**_entries(source, "parameters"),
                                           **_entries(package, "parameters")})
        path = f"{source['namespace']}/{source['name']}"
        inside = sorted((a for a in self.store.actions.values() if a["namespace"] == path),
                        key=lambda action: action["updated"], reverse=True)
        listed = [({"name": a["name"], "version": a["version"], "annotations": a["annotations"]},
                   "feed" in as_dict(a["annotations"])) for a in inside]
        shown["actions"] = [entry for entry, feed in listed if not feed]
        shown["feeds"] = [entry for entry, feed in listed if feed]
        return shown

    def put(self, request: Request) -> Doc:
        body, name = request.body, request.names[0]
        if name == "default":
            raise Reject(400, "Package name 'default' is reserved.")
        binding = body.get("binding") or None  # {} is no binding
        if binding is not None:
            if not (isinstance(binding, dict) and isinstance(binding.get("namespace"), str)
                    and isinstance(binding.get("name"), str)):
                raise Reject(400, f"{MALFORMED}binding malformed")
            owner = request.namespace if binding["namespace"] == "_" else binding["namespace"]
            binding = {"namespace": owner, "name": binding["name"]}
        parameters = _parse_entries(body, "parameters")
        annotations = _parse_entries(body, "annotations")

        def make(old: Doc | None) -> Doc:
            if binding is not None:
                if old is not None and not old["binding"]:
                    raise Reject(409, "Resource is a package and cannot be converted into a "
                                      "binding.")
                self._check_binding(_path(binding))
            kept = binding or (old["binding"] if old else {})
            notes = annotations if annotations is not None else _entries(old, "annotations")
            notes = {key: note for key, note in notes.items() if key != "binding"}
            if kept:  # set by the controller, whatever was sent
                notes["binding"] = _note("binding", dict(kept))
            return {"binding": kept, "publish": _parse_publish(body, old),
                    "parameters": _listed(parameters if parameters is not None
                                          else _entries(old, "parameters")),
                    "annotations": _listed(notes)}

        return self.store.put("packages", request.namespace, name, request.flag("overwrite"),
                              make)

    def delete(self, request: Request) -> Doc:
        package = self.store.find("packages", request.docid)
        if not package["binding"]:
            inside = [key for key, action in self.store.actions.items()
                      if action["namespace"] == request.docid]
            if inside and not request.flag("force"):
                count = f"{len(inside)} {'entity' if len(inside) == 1 else 'entities'}"
                raise Reject(409, f"Package not empty (contains {count}). Set force param or "
                                  "delete package contents.")
            for key in inside:
                del self.store.actions[key]
        return self.store.packages.pop(request.docid)

    def _check_binding(self, docid: str) -> None:
        target = self.store.packages.get(docid)
        if target is None and self.store.elsewhere("packages", docid):
            raise Reject(409, "Cannot bind to a resource that is not a package.")
        if target is None:
            raise Reject(400, "Binding references a package that does not exist.")
        if target["binding"]:
            raise Reject(400, "Cannot bind to another package binding.")


class TriggersApi:
    """Triggers.scala: PUT, GET and DELETE of ``triggers/name``; a trigger keeps its rules."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        return self.store.find("triggers", request.docid)

    def put(self, request: Request) -> Doc:
        parameters = _parse_entries(request.body, "parameters")
        annotations = _parse_entries(request.body, "annotations")

        def make(old: Doc | None) -> Doc:
            notes = annotations if annotations is not None else _entries(old, "annotations")
            feed = notes.get("feed", {}).get("value")
            if old is None and "feed" in notes and not (isinstance(feed, str) and all(
                    _NAME.match(part) for part in feed.strip("/").split("/"))):
                raise Reject(400, "Feed name is not valid")
            kept = {"rules": old["rules"]} if old and "rules" in old else {}
            return {"parameters": _listed(parameters if parameters is not None
                                          else _entries(old, "parameters")),
                    "annotations": _listed(notes), "limits": {},
                    "publish": _parse_publish(request.body, old), **kept}

        return self.store.put("triggers", request.namespace, request.names[0],
                              request.flag("overwrite"), make)

    def delete(self, request: Request) -> Doc:
        self.store.find("triggers", request.docid)
        return self.store.triggers.pop(request.docid)


class RulesApi:
    """Rules.scala: PUT, GET, DELETE and POST (status) of ``rules/name``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        rule = self.store.find("rules", request.docid)
        return {**rule, "status": self.store.rule_status(rule)}

    def put(self, request: Request) -> Doc:
        body, docid = request.body, request.docid
        trigger, action = (self._target(body[key]) if key in body else None
                           for key in ("trigger", "action"))
        annotations = _parse_entries(body, "annotations")

        def make(old: Doc | None) -> Doc:
            if old is None and (trigger is None or action is None):
                raise Reject(400, "rule requires a valid trigger and a valid action")
            new_trigger = trigger or old["trigger"]
            new_action = action or old["action"]
            if _path(new_trigger) not in self.store.triggers:
                raise Reject(400, f"trigger /{_path(new_trigger)} does not exist")
            parts = _path(new_action).split("/")
            try:
                self.store.resolve_action(parts[0], parts[1:])
            except Reject:
                raise Reject(400, f"action /{_path(new_action)} does not exist") from None
            status = self.store.rule_status(old) if old else "active"
            if old is not None and _path(old["trigger"]) != _path(new_trigger):
                self.store.link(_path(old["trigger"]), docid, None)
            self.store.link(_path(new_trigger), docid, {"action": new_action, "status": status})
            return {"trigger": new_trigger, "action": new_action,
                    "publish": _parse_publish(body, old),
                    "annotations": _listed(annotations if annotations is not None
                                           else _entries(old, "annotations"))}

        rule = self.store.put("rules", request.namespace, request.names[0],
                              request.flag("overwrite"), make)
        return {**rule, "status": self.store.rule_status(rule)}

    def post(self, request: Request) -> Answer:
        wanted = request.body.get("status")
        if wanted not in ("active", "inactive"):
            raise Reject(400, f"{MALFORMED}status must be 'active' or 'inactive'")
        rule = self.store.find("rules", request.docid)
        if self.store.rule_status(rule) != wanted:
            if _path(rule["trigger"]) not in self.store.triggers:
                raise Reject(404, "Only rules with existing triggers can be activated")
            self.store.link(_path(rule["trigger"]), request.docid,
                            {"action": rule["action"], "status": wanted})
        return Answer(200, "OK")  # akka's complete(OK): text/plain

    def delete(self, request: Request) -> Doc:
        rule = self.store.find("rules", request.docid)
        self.store.link(_path(rule["trigger"]), request.docid, None)
        del self.store.rules[request.docid]
        return {**rule, "status": "inactive"}

    def _target(self, name: Json) -> Doc:
        """A rule's trigger or action as ``{path, name}``; ``t`` and ``pkg/a`` are the
        caller's (FullyQualifiedEntityName.resolveName)."""
        if isinstance(name, str) and not name.startswith("/") and name.count("/") < 2:
            name = f"/{self.store.namespace}/{name}"
        parts = _fqn(name, self.store.namespace)
        return {"path": "/".join(parts[:-1]), "name": parts[-1]}


class ActivationsApi:
    """Activations.scala: the list (newest first, filtered by ``name``, ``since``, ``upto``,
    paged by ``limit`` and ``skip``, whole with ``docs=true``) and one activation, its logs and
    its result; 404 until an activation has ended."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, query: Mapping[str, str]) -> list[Doc]:
        limit, skip = _window(query, "activations")
        name = query.get("name", "")
        since, upto = (int(query[key]) if query.get(key) else None for key in ("since", "upto"))
        shown = []
        for entry in self.store.activations.values():
            doc = entry["doc"]
            if entry["pending"] or entry["late"]:
                continue
            path = as_dict(doc["annotations"])["path"].partition("/")[2]
            if name and name not in (path, doc["name"] if "/" not in path else None):
                continue
            if (since is not None and doc["start"] < since) or \
                    (upto is not None and doc["start"] > upto):
                continue
            shown.append(doc)
        for entry in self.store.activations.values():  # one list request nearer to showing
            if not entry["pending"] and entry["late"]:
                entry["late"] -= 1
        shown.sort(key=lambda doc: doc["start"], reverse=True)
        docs = query.get("docs", "false").lower() == "true"
        return [dict(doc) if docs else {key: value for key, value in doc.items()
                                        if key not in ("logs", "response")}
                for doc in shown[skip:skip + limit]]

    def get(self, activation_id: str, part: str) -> Doc:
        entry = self.store.activations.get(activation_id)
        if entry is None:
            raise Reject(404)
        if entry["pending"]:
            entry["pending"] -= 1
            raise Reject(404)
        doc = entry["doc"]
        if part == "logs":
            return {"logs": list(doc["logs"])}
        if part == "result":
            return dict(doc["response"])
        if part:
            raise Reject(404)
        return dict(doc)


class _Refused(Exception):
    """A feed action's failure; ``result`` goes in its ``error``."""

    def __init__(self, result: Json) -> None:
        super().__init__(result)
        self.result = result


class AlarmsFeed:
    """openwhisk-package-alarms' feed (alarm.js, alarmWebAction.js): one registration a trigger."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.registrations: dict[str, Doc] = {}  # "/ns/trigger" -> the feed's inputs
        self.invocations: list[FeedInvocation] = []

    def run(self, feed: str, body: Doc, args: Doc) -> tuple[bool, Json]:
        """(success, result) of one invocation of ``feed``."""
        self.invocations.append(FeedInvocation(feed, dict(body), dict(args)))
        try:
            return True, self._event(feed.rpartition("/")[2], args)
        except _Refused as refused:
            return False, {"error": refused.result}

    def _event(self, feed: str, args: Doc) -> Json:
        event = args.get("lifecycleEvent")
        if event not in ("CREATE", "READ", "UPDATE", "DELETE"):  # PAUSE, UNPAUSE too
            raise _Refused("unsupported lifecycleEvent")
        if not args.get("authKey"):
            raise _Refused({"error": "no authKey parameter was provided"})
        if not args.get("triggerName"):
            raise _Refused({"error": "no trigger name parameter was provided"})
        name = str(args["triggerName"])  # createWebParams: taken in the caller's namespace
        name = "/".join(name.split("/")[2:]) if name.startswith("/") else name
        trigger = f"/{self.store.namespace}/{name}"
        exists = trigger[1:] in self.store.triggers  # verifyTriggerAuth: GET it with authKey
        if args["authKey"] != self.store.auth or not (exists or event == "DELETE"):
            raise _Refused({"error": "Trigger authentication request failed."})
        inputs = {key: value for key, value in args.items()
                  if key not in ("lifecycleEvent", "triggerName", "authKey", "apihost")}
        known = self.registrations.get(trigger)
        if event == "CREATE":
            self._check(feed, inputs)
            if known is not None:
                raise _Refused({"error": "error creating alarm trigger.",
                                "message": "Document update conflict."})
            self.registrations[trigger] = inputs
            return {"status": "success"}
        if known is None:
            raise _Refused({"error": f"could not find trigger {trigger} in the database"})
        if event == "READ":
            shown = ("cron", "minutes", "date", "deleteAfterFire", "startDate", "stopDate")
            return {"config": {"name": name, "namespace": self.store.namespace,
                               "payload": known.get("trigger_payload", {}),
                               **{key: known[key] for key in shown if key in known}},
                    "status": {"active": True}}
        if event == "DELETE":
            del self.registrations[trigger]
            return {"status": "success"}
        updatable = {"trigger_payload", FEEDS[feed], "startDate", "stopDate", "deleteAfterFire"}
        changes = {key: value for key, value in inputs.items() if key in updatable}
        if not changes:
            raise _Refused({"error": "no updatable parameters were specified"})
        known.update(changes)
        return {"status": "success"}

    @staticmethod
    def _check(feed: str, inputs: Doc) -> None:
        required = FEEDS[feed]
        value = inputs.get(required)
        if not value:
            what = {"alarm": "alarms trigger feed", "once": "alarms once trigger feed",
                    "interval": "interval trigger feed"}[feed]
            raise _Refused({"error": f"{what} is missing the {required} parameter"})
        if feed == "alarm" and len(str(value).split()) not in (5, 6):
            raise _Refused({"error": f"cron pattern '{value}' is not valid"})
        if feed == "interval" and not str(value).lstrip("-").isdigit():
            raise _Refused({"error": "the minutes parameter must be an integer"})
        if feed == "interval" and int(value) <= 0:
            raise _Refused({"error": "the minutes parameter must be an integer greater than zero"})


class OpenWhiskStandIn:
    """The controller on a loopback port: a context manager that starts and stops it."""

    def __init__(self, *, auth: str = AUTH, namespace: str = NAMESPACE,
                 kinds: Mapping[str, Sequence[str]] | None = None) -> None:
        self.auth, self.namespace = auth, namespace
        self.store = Store(namespace, auth)
        if kinds is not None:
            self.store.kinds = {family: tuple(names) for family, names in kinds.items()}
        self.feeds = AlarmsFeed(self.store)
        self.packages, self.actions = self.store.packages, self.store.actions
        self.triggers, self.rules = self.store.triggers, self.store.rules
        self.calls: list[Call] = []
        self._apis = {"actions": ActionsApi(self.store, self.feeds),
                      "packages": PackagesApi(self.store), "triggers": TriggersApi(self.store),
                      "rules": RulesApi(self.store)}
        self._activations_api = ActivationsApi(self.store)
        self.activations = self.store.activations
        self._expected = "Basic " + base64.b64encode(auth.encode("latin-1")).decode()
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def start(self) -> OpenWhiskStandIn:
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._server = _Server(self)
        self._server.start()
        return self

    def stop(self) -> None:
        """Cuts open connections and waits for every handler thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> OpenWhiskStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def apihost(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.url

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
        with self._lock:
            return sorted(key.removeprefix(prefix) for key in getattr(self.store, collection)
                          if key.startswith(prefix))

    def view(self, collection: str, name: str, **query: str) -> Json:
        """What GET of ``name`` (``demo/hello``) in the caller's namespace answers; else Reject."""
        with self._lock:
            request = Request(self.namespace, name.split("/"), query, {})
            return json.loads(json.dumps(self._apis[collection].get(request)))

    def on_invoke(self, name: str, handler: Handler) -> None:
        """What invoking the action ``name`` (``demo/hello``) produces: a callable of its
        arguments (parameters merged under the body) giving a Run or a result, or either as is."""
        with self._lock:
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
        with self._lock:
            self.calls.clear()

    def answer(self, method: str, target: str, raw: bytes, authorization: str) -> Answer:
        """Records the request and answers it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body, malformed = (json.loads(raw) if raw.strip() else None), None
        except ValueError as exc:
            body, malformed = raw.decode("utf-8", "replace"), str(exc)
        with self._lock:
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
        if not authorized:
            raise Reject(401, "The supplied authentication is invalid.")
        if path.rstrip("/") == f"{API}/namespaces" and method == "GET":
            return Answer(200, [self.namespace])
        segments = path.split("/")
        if segments[1:4] == ["api", "v1", "namespaces"] and len(segments) > 5 \
                and segments[5] == "activations" and method == "GET":
            rest = [unquote(part) for part in segments[6:]]
            if not rest or rest == [""]:
                return Answer(200, self._activations_api.list(query))
            if len(rest) > 2 or not rest[0]:
                raise Reject(404)
            return Answer(200, self._activations_api.get(rest[0], rest[1] if len(rest) > 1
                                                         else ""))
        if segments[1:4] != ["api", "v1", "namespaces"] or len(segments) < 6 \
                or segments[5] not in COLLECTIONS:
            raise Reject(404)
        namespace = unquote(segments[4])
        collection, names = segments[5], [unquote(part) for part in segments[6:]]
        listing = not names or names[-1] == ""
        names = [name for name in names if name] if listing else names
        request = Request(self.namespace if namespace == "_" else namespace, names, query,
                          body if isinstance(body, dict) else {})
        if listing and method == "GET" and len(names) <= (1 if collection == "actions" else 0):
            return Answer(200, self.store.page(collection, request))
        if listing or len(names) > (2 if collection == "actions" else 1):
            raise Reject(404)
        if not all(_NAME.match(name) for name in names):
            raise Reject(400, "The name of the entity contains illegal characters.")
        operation = getattr(self._apis[collection], method.lower(), None)
        if method not in ("GET", "PUT", "POST", "DELETE") or operation is None:
            raise Reject(405, "HTTP method not allowed, supported methods: GET, PUT, DELETE")
        invoke = method == "POST" and collection == "actions"
        if request.namespace != self.namespace and not (method == "GET" or invoke):
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
        return {"description": "OpenWhisk stand-in", "api_paths": [API], "runtimes": runtimes}


class _Server(LoopbackServer):
    def __init__(self, standin: OpenWhiskStandIn) -> None:
        self.standin = standin
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
        answer = self.server.standin.answer(self.command, self.path, raw,
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
