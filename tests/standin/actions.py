"""The actions collection, as apache/openwhisk's controller serves it:
core/controller/src/main/scala/org/apache/openwhisk/core/controller/Actions.scala."""

from __future__ import annotations

import re
import uuid

from tests.standin.activations import record_run
from tests.standin.alarms import ALARMS, AlarmsFeed
from tests.standin.fields import (
    as_dict,
    as_list,
    default_limits,
    entries_of,
    fqn,
    key_value,
    parse_entries,
    parse_limits,
    parse_publish,
)
from tests.standin.store import Store
from tests.standin.wire import MALFORMED, Answer, Doc, Json, Reject, Request

MAX_SEQUENCE = 50  # actions a sequence may run, its inner sequences inlined
_BASE64 = re.compile(r"\A([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|"
                     r"[A-Za-z0-9+/]{2}==)\Z")


class ActionsApi:
    """PUT, GET, DELETE and POST (invoke) of ``actions/[pkg/]name``, sequences included."""

    def __init__(self, store: Store, feeds: AlarmsFeed) -> None:
        self.store, self.feeds = store, feeds

    def get(self, request: Request) -> Doc:
        action, parameters = self.store.resolve_action(request.namespace, request.names)
        shown = {**action, "parameters": as_list(parameters)}
        if not request.flag("code", "true"):
            shown["exec"] = {key: value for key, value in action["exec"].items() if key != "code"}
        return shown

    def put(self, request: Request) -> Doc:
        path, body = self._package_path(request), request.body
        docid = f"{path}/{request.names[-1]}"
        given = self._parse_exec(body["exec"]) if "exec" in body else None
        parameters = parse_entries(body, "parameters")
        annotations = parse_entries(body, "annotations") or {}
        limits, dropped = parse_limits(body, self.store.limits), body.get("delAnnotations") or []
        if not isinstance(dropped, list) or not all(isinstance(key, str) for key in dropped):
            raise Reject(400, f"{MALFORMED}delAnnotations must be an array of strings")

        def make(old: Doc | None) -> Doc:
            if old is None and given is None:
                raise Reject(400, "exec undefined")
            exec_ = given if given is not None else old["exec"]
            was_sequence = old is not None and old["exec"]["kind"] == "sequence"
            if given is not None and given["kind"] == "sequence":  # parameters: "_actions" only
                self._check_sequence(docid, given["components"])
                kept = {"_actions": key_value("_actions", given["components"])}
            elif was_sequence and given is None:
                kept = entries_of(old, "parameters")
            elif parameters is not None:  # replaced as a whole
                kept = parameters
            else:
                kept = {} if was_sequence else entries_of(old, "parameters")
            if old is None:  # amendAnnotations: provide-api-key on create, exec always
                notes = {"provide-api-key": key_value("provide-api-key", False), **annotations}
            else:  # merged, less delAnnotations
                notes = {key: note for key, note in entries_of(old, "annotations").items()
                         if key not in dropped}
                notes.update(annotations)
            notes["exec"] = key_value("exec", exec_["kind"])
            base = old["limits"] if old else default_limits()
            return {"exec": exec_, "parameters": as_list(kept), "limits": {**base, **limits},
                    "publish": parse_publish(body, old), "annotations": as_list(notes)}

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
        if "feed" in annotations and action["namespace"] == ALARMS:
            success, result = self.feeds.run(path, body, {**as_dict(parameters.values()), **body})
        elif action["namespace"].split("/")[0] == self.store.namespace:
            return record_run(self.store, request, action,
                              {**as_dict(parameters.values()), **body})
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
            "annotations": [key_value("path", path), key_value("kind", action["exec"]["kind"])]}
        return Answer(200 if success else 502, result if request.flag("result") else activation,
                      headers)

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
                "/" + "/".join(fqn(name, self.store.namespace)) for name in components]}
        if kind == "blackbox":  # a docker image, with code of its own or none
            image, code = value.get("image"), value.get("code")
            if not isinstance(image, str) or not image.strip():
                raise Reject(400, MALFORMED + "'image' must be a string defined in 'exec' for "
                                              "'blackbox' actions")
            return {"kind": kind, "image": image,
                    **({"code": code, "binary": _is_base64(code)} if isinstance(code, str)
                       else {}),
                    **({"main": value["main"]} if isinstance(value.get("main"), str) else {})}
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
        return {"kind": kind, "code": code, "binary": _is_base64(code),
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


def _is_base64(code: str) -> bool:
    """The server decides "binary" itself, from the code."""
    text = code.strip()
    return bool(text) and len(text) % 4 == 0 and bool(_BASE64.match(text))
