"""The packages collection, as apache/openwhisk's controller serves it:
core/controller/src/main/scala/org/apache/openwhisk/core/controller/Packages.scala."""

from __future__ import annotations

from tests.standin.fields import (
    as_dict,
    as_list,
    docid_of,
    entries_of,
    key_value,
    parse_entries,
    parse_publish,
)
from tests.standin.store import Store
from tests.standin.wire import MALFORMED, Doc, Reject, Request


class PackagesApi:
    """PUT, GET and DELETE of ``packages/name``, bindings included."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, request: Request) -> Doc:
        package = self.store.find("packages", request.docid)
        shown, source = dict(package), package
        if package["binding"]:  # mergePackageWithBinding: the binding's parameters win
            source = self.store.find("packages", docid_of(package["binding"]))
            shown["parameters"] = as_list({**entries_of(source, "parameters"),
                                           **entries_of(package, "parameters")})
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
        parameters = parse_entries(body, "parameters")
        annotations = parse_entries(body, "annotations")

        def make(old: Doc | None) -> Doc:
            if binding is not None:
                if old is not None and not old["binding"]:
                    raise Reject(409, "Resource is a package and cannot be converted into a "
                                      "binding.")
                self._check_binding(docid_of(binding))
            kept = binding or (old["binding"] if old else {})
            notes = annotations if annotations is not None else entries_of(old, "annotations")
            notes = {key: note for key, note in notes.items() if key != "binding"}
            if kept:  # set by the controller, whatever was sent
                notes["binding"] = key_value("binding", dict(kept))
            return {"binding": kept, "publish": parse_publish(body, old),
                    "parameters": as_list(parameters if parameters is not None
                                          else entries_of(old, "parameters")),
                    "annotations": as_list(notes)}

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

