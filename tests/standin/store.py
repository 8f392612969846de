"""The stand-in's state: every entity, keyed ``ns/[pkg/]name`` as OpenWhisk's document ids are,
the activations and the handlers that say what an invocation produces, and the rules every
collection shares (one name space for all four, versions, newest-first pages)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.standin.fields import LIMITS, docid_of, entries_of
from tests.standin.runs import Handler
from tests.standin.wire import CONFORMANCE, Doc, Entries, Reject, Request

# Each family's kinds, its default first.
KINDS = {"python": ("python:3.10", "python:3.11"), "nodejs": ("nodejs:20", "nodejs:18"),
         "java": ("java:8",)}
LIST_LIMIT, MAX_LIST_LIMIT = 30, 200
COLLECTIONS = ("actions", "packages", "triggers", "rules")


class Store:
    """The entities, each keyed ``ns/[pkg/]name`` as OpenWhisk's document ids are."""

    def __init__(self, namespace: str, auth: str) -> None:
        self.namespace, self.auth = namespace, auth
        self.kinds: dict[str, tuple[str, ...]] = dict(KINDS)
        self.limits: dict[str, tuple[Any, ...]] = dict(LIMITS)  # a test may widen them
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
            path, inherited = f"{namespace}/{names[0]}", entries_of(package, "parameters")
            if package["binding"]:
                path = docid_of(package["binding"])
                inherited = {**entries_of(self.find("packages", path), "parameters"), **inherited}
        action = self.find("actions", f"{path}/{names[-1]}")
        return action, {**inherited, **entries_of(action, "parameters")}

    def rule_status(self, rule: Doc) -> str:
        """"active" or "inactive" as the rule's trigger has it; inactive if it has none."""
        trigger = self.triggers.get(docid_of(rule["trigger"])) or {}
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
        limit, skip = list_window(request.query, collection)
        if request.names:
            package = self.find("packages", request.docid)
            path = docid_of(package["binding"]) if package["binding"] else request.docid
            docs = [doc for doc in self.actions.values() if doc["namespace"] == path]
        else:
            docs = [doc for doc in getattr(self, collection).values()
                    if doc["namespace"].split("/")[0] == request.namespace]
        docs.sort(key=lambda doc: doc["updated"], reverse=True)
        return [_summary(collection, doc) for doc in docs[skip:skip + limit]]


def list_window(query: Mapping[str, str], collection: str) -> tuple[int, int]:
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

