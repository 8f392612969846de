"""Whether what the server holds is what the manifest asks for: the incremental deploy's test.

Always against a fresh GET, never a local record that can go stale. The
controller does not give back what it was sent, so each comparison reads past
what it adds or reorders: an action GET merges its package's parameters, the
server adds ``exec``/``provide-api-key`` (actions) and ``binding`` (bindings)
annotations, fills in default limits and keeps no order. The manifest's hash in
``whisk-managed`` says which version last wrote an entity; it is not compared,
so editing one action does not make every other one "changed".
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from tools.deploy.plan import MANAGED, Desired

SERVER_ANNOTATIONS = {"actions": frozenset({"exec", "provide-api-key"}),
                      "packages": frozenset({"binding"})}


def unchanged(desired: Desired, held: Mapping[str, Any]) -> bool:
    """True when ``held`` (the server's GET) already is ``desired``."""
    body = desired.body
    if desired.kind == "rule":
        return (_path_name(held.get("trigger")) == body["trigger"]
                and _path_name(held.get("action")) == body["action"]
                and held.get("status") == "active"
                and _annotations(held, "rules") == _annotations(body, "rules"))
    if _annotations(held, desired.entity.collection) != _annotations(body, ""):
        return False
    if desired.kind == "sequence":
        exec_ = held.get("exec") or {}
        return (exec_.get("kind") == "sequence"
                and list(exec_.get("components") or []) == body["exec"]["components"])
    if desired.kind == "action":
        return _same_action(desired, held)
    if desired.kind == "binding":  # a binding's GET merges in the bound package's parameters
        return ((held.get("binding") or {}) == body["binding"]
                and _parameters(body).items() <= _parameters(held).items())
    return _parameters(held) == _parameters(body)


def stale_annotations(desired: Desired, held: Mapping[str, Any]) -> list[str]:
    """Annotations an action or sequence holds that the manifest no longer has: an action
    update merges annotations, so these must be named in ``delAnnotations``."""
    wanted = {item["key"] for item in desired.body["annotations"]}
    return sorted(key for key in _annotations(held, "actions") if key not in wanted)


def _same_action(desired: Desired, held: Mapping[str, Any]) -> bool:
    exec_ = held.get("exec") or {}
    wanted = desired.body["exec"]
    if exec_.get("kind") != wanted["kind"] or exec_.get("main", "main") != wanted["main"]:
        return False
    if _code_sha256(exec_.get("code")) != desired.code_sha256:
        return False
    limits = held.get("limits") or {}
    if any(limits.get(name) != value for name, value in desired.body.get("limits", {}).items()):
        return False
    merged = {**{key: (value, False) for key, value in desired.package_inputs.items()},
              **_parameters(desired.body)}
    return _parameters(held) == merged


def _parameters(entity: Mapping[str, Any]) -> dict[str, tuple[Any, bool]]:
    """Each parameter's value and whether it is an init parameter."""
    return {item["key"]: (item.get("value"), item.get("init") is True)
            for item in entity.get("parameters") or [] if isinstance(item, dict)}


def _annotations(entity: Mapping[str, Any], collection: str) -> dict[str, Any]:
    """The annotations that matter: less those the server adds, and less the manifest hash."""
    added = SERVER_ANNOTATIONS.get(collection, frozenset())
    found = {item["key"]: item.get("value") for item in entity.get("annotations") or []
             if isinstance(item, dict) and item.get("key") not in added}
    if isinstance(found.get(MANAGED), dict):
        found[MANAGED] = {k: v for k, v in found[MANAGED].items() if k != "projectHash"}
    return found


def _code_sha256(code: Any) -> str | None:
    if not isinstance(code, str):
        return None
    try:
        return hashlib.sha256(base64.b64decode(code, validate=True)).hexdigest()
    except ValueError:
        return None


def _path_name(value: Any) -> str | None:
    """A rule's ``{"path": "ns/pkg", "name": "a"}`` as ``/ns/pkg/a``."""
    if not isinstance(value, dict):
        return None
    return f"/{value.get('path')}/{value.get('name')}"
