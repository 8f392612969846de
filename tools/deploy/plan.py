"""The requests a deploy makes, built and checked against OpenWhisk's limits before any is sent.

The same steps are sent by a deploy and printed by ``--dry-run``, secrets masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tools.deploy.build import ActionZip
from tools.deploy.client import Call, Entity, put
from tools.errors import ToolError
from tools.manifest import Action, Manifest, Package, masked

MAX_CODE_BASE64 = 48 * 1024 * 1024  # OpenWhisk measures the code limit on the base64 string
MAX_PARAMETERS = 1024 * 1024  # stored parameters, as JSON


class ConfigError(ToolError):
    """Something to fix before deploying (a zip too large, a kind the server lacks)."""



@dataclass(frozen=True)
class Step:
    """One entity's request, and the same request as it may be shown."""

    entity: Entity
    call: Call
    shown: Mapping[str, Any]
    note: str = ""



def deploy_steps(manifest: Manifest, zips: Sequence[ActionZip], namespace: str) -> list[Step]:
    """The PUTs a deploy makes, packages first; ConfigError when one would exceed a limit."""
    steps = []
    for package in manifest.packages:
        body = package_body(package)
        steps.append(Step(Entity("packages", package.name),
                          put(Entity("packages", package.name), namespace, body),
                          _shown_body(body)))
    for built in zips:
        action = built.action
        code = built.base64()
        if len(code) > MAX_CODE_BASE64:
            raise ConfigError(f"action {action.qualified_name}: the zip is {len(code)} bytes in "
                              f"base64, over OpenWhisk's {MAX_CODE_BASE64} byte limit")
        body = action_body(action, code)
        if len(json.dumps(body["parameters"])) > MAX_PARAMETERS:
            raise ConfigError(f"action {action.qualified_name}: its inputs are over "
                              f"OpenWhisk's {MAX_PARAMETERS} byte limit")
        entity = Entity("actions", action.qualified_name)
        shown = _shown_body(body)
        shown["exec"] = {**body["exec"], "code": f"<zip of {len(built.data)} bytes, "
                                                 f"{len(code)} in base64, sha256 {built.sha256}>"}
        steps.append(Step(entity, put(entity, namespace, body), shown,
                          f" ({action.kind}, {len(built.data)} byte zip)"))
    return steps


def undeploy_entities(manifest: Manifest) -> list[Entity]:
    """Actions first: a package that still holds actions cannot be deleted."""
    return ([Entity("actions", action.qualified_name) for action in manifest.actions()]
            + [Entity("packages", package.name) for package in manifest.packages])


def package_body(package: Package) -> dict[str, Any]:
    return {"parameters": _key_values(package.inputs),
            "annotations": _key_values(package.annotations), "publish": False}


def action_body(action: Action, code: str) -> dict[str, Any]:
    """The PUT body. Parameters are replaced as a whole on update; annotations are merged,
    so web annotations an earlier deploy left go through ``delAnnotations``."""
    body: dict[str, Any] = {
        "exec": {"kind": action.kind, "code": code, "main": action.main},
        "parameters": _key_values(action.inputs),
        "annotations": _key_values(action.all_annotations()),
    }
    if action.limits.to_api():
        body["limits"] = action.limits.to_api()
    if action.stale_annotations():
        body["delAnnotations"] = action.stale_annotations()
    return body


def web_url(apihost: str, namespace: str, action: Action) -> str:
    parts = (namespace, action.package, action.name)
    return f"{apihost}/api/v1/web/" + "/".join(quote(part, safe="") for part in parts)



def _key_values(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in values.items()]


def _shown_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with secret parameters and annotations masked."""
    shown = dict(body)
    for name in ("parameters", "annotations"):
        values = {item["key"]: item["value"] for item in body[name]}
        shown[name] = _key_values(masked(values))
    return shown


