"""The triggers collection, as apache/openwhisk's controller serves it:
core/controller/src/main/scala/org/apache/openwhisk/core/controller/Triggers.scala."""

from __future__ import annotations

from tests.standin.fields import as_list, entries_of, parse_entries, parse_publish
from tests.standin.store import Store
from tests.standin.wire import ENTITY_NAME, Doc, Reject, Request


class TriggersApi:
    """PUT, GET and DELETE of ``triggers/name``; a trigger keeps its rules' states."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        return self.store.find("triggers", request.docid)

    def put(self, request: Request) -> Doc:
        parameters = parse_entries(request.body, "parameters")
        annotations = parse_entries(request.body, "annotations")

        def make(old: Doc | None) -> Doc:
            notes = annotations if annotations is not None else entries_of(old, "annotations")
            feed = notes.get("feed", {}).get("value")
            if old is None and "feed" in notes and not (isinstance(feed, str) and all(
                    ENTITY_NAME.match(part) for part in feed.strip("/").split("/"))):
                raise Reject(400, "Feed name is not valid")
            kept = {"rules": old["rules"]} if old and "rules" in old else {}
            return {"parameters": as_list(parameters if parameters is not None
                                          else entries_of(old, "parameters")),
                    "annotations": as_list(notes), "limits": {},
                    "publish": parse_publish(request.body, old), **kept}

        return self.store.put("triggers", request.namespace, request.names[0],
                              request.flag("overwrite"), make)

    def delete(self, request: Request) -> Doc:
        self.store.find("triggers", request.docid)
        return self.store.triggers.pop(request.docid)

