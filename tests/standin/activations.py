"""Activations: an invocation of one of the namespace's actions recorded as the controller
records it, and the collection that reads them back, as apache/openwhisk's controller serves it:
core/controller/src/main/scala/org/apache/openwhisk/core/controller/Activations.scala."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from tests.standin.fields import as_dict, key_value
from tests.standin.runs import LOG_PREFIX, PENDING_GETS, STATUS_CODES, Run, log_line
from tests.standin.store import Store, list_window
from tests.standin.wire import Answer, Doc, Reject, Request


def record_run(store: Store, request: Request, action: Doc, args: Doc) -> Answer:
    """An invocation of one of the namespace's actions, as its registered handler says
    (none: an application error), recorded as an activation."""
    path = f"{action['namespace']}/{action['name']}"
    name = path.partition("/")[2]
    handler = store.handlers.get(name)
    if handler is None:
        run = Run({"error": "The OpenWhisk stand-in runs only feed actions."},
                  status="application error")
    else:
        produced = handler(dict(args)) if callable(handler) else handler
        run = produced if isinstance(produced, Run) else Run(produced)
    if run.status not in STATUS_CODES:
        raise ValueError(f"unknown activation status {run.status!r}")
    start, activation_id = store.now(), uuid.uuid4().hex
    blocking = request.flag("blocking")
    outlives = blocking and run.duration > store.blocking_window_ms
    pending = run.pending if run.pending is not None else PENDING_GETS if outlives else 0
    code = STATUS_CODES[run.status]
    response = {"status": run.status, "statusCode": code, "success": code == 0,
                "result": run.result}
    activation = {
        "namespace": store.namespace, "name": action["name"], "subject": "stand-in",
        "version": action["version"], "activationId": activation_id, "start": start,
        "end": start + run.duration, "duration": run.duration, "statusCode": code,
        "response": response, "publish": False,
        "logs": [line if LOG_PREFIX.match(line) else log_line(line, start) for line in run.logs],
        "annotations": [key_value("path", path), key_value("kind", action["exec"]["kind"]),
                        key_value("limits", action["limits"])]}
    store.activations[activation_id] = {"doc": activation, "pending": pending, "late": run.late}
    headers = {"x-openwhisk-activation-id": activation_id}
    if not blocking or outlives:
        return Answer(202, {"activationId": activation_id}, headers)
    status = 200 if code == 0 else 502 if code in (1, 2) else 500
    return Answer(status, run.result if request.flag("result") else activation, headers)


class ActivationsApi:
    """The list (newest first, filtered by ``name``, ``since``, ``upto``,
    paged by ``limit`` and ``skip``, whole with ``docs=true``) and one activation, its logs and
    its result; 404 until an activation has ended."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, query: Mapping[str, str]) -> list[Doc]:
        limit, skip = list_window(query, "activations")
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

