"""The rules collection, as apache/openwhisk's controller serves it:
core/controller/src/main/scala/org/apache/openwhisk/core/controller/Rules.scala."""

from __future__ import annotations

from tests.standin.fields import as_list, docid_of, entries_of, fqn, parse_entries, parse_publish
from tests.standin.store import Store
from tests.standin.wire import MALFORMED, Answer, Doc, Json, Reject, Request


class RulesApi:
    """PUT, GET, DELETE and POST (status) of ``rules/name``; the state lives in the trigger."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        rule = self.store.find("rules", request.docid)
        return {**rule, "status": self.store.rule_status(rule)}

    def put(self, request: Request) -> Doc:
        body, docid = request.body, request.docid
        trigger, action = (self._target(body[key]) if key in body else None
                           for key in ("trigger", "action"))
        annotations = parse_entries(body, "annotations")

        def make(old: Doc | None) -> Doc:
            if old is None and (trigger is None or action is None):
                raise Reject(400, "rule requires a valid trigger and a valid action")
            new_trigger = trigger or old["trigger"]
            new_action = action or old["action"]
            if docid_of(new_trigger) not in self.store.triggers:
                raise Reject(400, f"trigger /{docid_of(new_trigger)} does not exist")
            parts = docid_of(new_action).split("/")
            try:
                self.store.resolve_action(parts[0], parts[1:])
            except Reject:
                raise Reject(400, f"action /{docid_of(new_action)} does not exist") from None
            status = self.store.rule_status(old) if old else "active"
            if old is not None and docid_of(old["trigger"]) != docid_of(new_trigger):
                self.store.link(docid_of(old["trigger"]), docid, None)
            self.store.link(docid_of(new_trigger), docid, {"action": new_action, "status": status})
            return {"trigger": new_trigger, "action": new_action,
                    "publish": parse_publish(body, old),
                    "annotations": as_list(annotations if annotations is not None
                                           else entries_of(old, "annotations"))}

        rule = self.store.put("rules", request.namespace, request.names[0],
                              request.flag("overwrite"), make)
        return {**rule, "status": self.store.rule_status(rule)}

    def post(self, request: Request) -> Answer:
        wanted = request.body.get("status")
        if wanted not in ("active", "inactive"):
            raise Reject(400, f"{MALFORMED}status must be 'active' or 'inactive'")
        rule = self.store.find("rules", request.docid)
        if self.store.rule_status(rule) != wanted:
            if docid_of(rule["trigger"]) not in self.store.triggers:
                raise Reject(404, "Only rules with existing triggers can be activated")
            self.store.link(docid_of(rule["trigger"]), request.docid,
                            {"action": rule["action"], "status": wanted})
        return Answer(200, "OK")  # akka's complete(OK): text/plain

    def delete(self, request: Request) -> Doc:
        rule = self.store.find("rules", request.docid)
        self.store.link(docid_of(rule["trigger"]), request.docid, None)
        del self.store.rules[request.docid]
        return {**rule, "status": "inactive"}

    def _target(self, name: Json) -> Doc:
        """A rule's trigger or action as ``{path, name}``; ``t`` and ``pkg/a`` are the
        caller's (FullyQualifiedEntityName.resolveName)."""
        if isinstance(name, str) and not name.startswith("/") and name.count("/") < 2:
            name = f"/{self.store.namespace}/{name}"
        parts = fqn(name, self.store.namespace)
        return {"path": "/".join(parts[:-1]), "name": parts[-1]}

