"""What a project should look like on the server: one :class:`Desired` entity each, in deploy order.

Each carries the PUT body (checked against OpenWhisk's limits before anything
is sent), the same body with secrets masked for display, and for a trigger
with a feed the feed call. Every entity is marked as this project's with
wskdeploy's ``whisk-managed`` annotation, so wskdeploy, ``aio`` and this tool
agree on who owns what.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tools.deploy.build import ActionZip
from tools.deploy.client import Entity, qualified
from tools.errors import ToolError
from tools.manifest import Action, Manifest, masked
from tools.manifest.model import Binding, Package, Rule, Trigger
from tools.manifest.model import Sequence as SequenceEntity

MAX_CODE_BASE64 = 48 * 1024 * 1024  # OpenWhisk measures the code limit on the base64 string
MAX_PARAMETERS = 1024 * 1024  # stored parameters, as JSON
MANAGED = "whisk-managed"
FEED_DIGEST = "feed-inputs-sha256"  # the feed's inputs live with the feed; their digest here
# Deploy order; pruning and undeploying go the other way.
ORDER = ("package", "binding", "action", "sequence", "trigger", "rule")


class ConfigError(ToolError):
    """Something to fix before deploying (a zip too large, a kind the server lacks)."""


@dataclass(frozen=True)
class Feed:
    """The feed action a trigger is made from, and what the feed call gives it."""

    action: str  # fully qualified
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Desired:
    entity: Entity
    body: dict[str, Any]
    shown: Mapping[str, Any]  # the body with secrets masked and code summarised
    note: str = ""
    feed: Feed | None = None
    code_sha256: str | None = None  # an action's zip
    package_inputs: Mapping[str, Any] = field(default_factory=dict)  # merged into an action GET

    @property
    def kind(self) -> str:
        return self.entity.label or self.entity.collection[:-1]


def managed_annotation(project: str, manifest: Manifest, source: bytes) -> dict[str, str]:
    """wskdeploy's ``whisk-managed``: the project, the manifest's hash and file."""
    return {"projectName": project, "projectHash": hashlib.sha256(source).hexdigest(),
            "file": manifest.path.name}


def plan(manifest: Manifest, zips: Sequence[ActionZip], namespace: str,
         managed: Mapping[str, str]) -> list[Desired]:
    """Every entity of the manifest in deploy order; ConfigError when one exceeds a limit."""
    code = {built.action.qualified_name: built for built in zips}
    desired: list[Desired] = []
    for package in manifest.packages:
        desired.append(_package(package, managed))
    desired += [_binding(binding, managed) for binding in manifest.bindings]
    for package in manifest.packages:
        desired += [_action(action, code[action.qualified_name], package, managed)
                    for action in package.actions]
    desired += [_sequence(sequence, namespace, managed) for sequence in manifest.sequences()]
    desired += [_trigger(trigger, managed) for trigger in manifest.triggers]
    desired += [_rule(rule, namespace, managed) for rule in manifest.rules]
    return desired


def web_url(apihost: str, namespace: str, entity: Action | SequenceEntity) -> str:
    parts = (namespace, entity.package, entity.name)
    return f"{apihost}/api/v1/web/" + "/".join(quote(part, safe="") for part in parts)


def key_values(values: Mapping[str, Any], init: frozenset[str] = frozenset()
               ) -> list[dict[str, Any]]:
    return [{"key": key, "value": value, **({"init": True} if key in init else {})}
            for key, value in values.items()]


def _package(package: Package, managed: Mapping[str, str]) -> Desired:
    body = {"parameters": key_values(package.inputs),
            "annotations": key_values({**package.annotations, MANAGED: dict(managed)}),
            "publish": False}
    return Desired(Entity("packages", package.name), body, _shown(body))


def _binding(binding: Binding, managed: Mapping[str, str]) -> Desired:
    namespace, _, name = binding.location.strip("/").partition("/")
    body = {"binding": {"namespace": namespace, "name": name},
            "parameters": key_values(binding.inputs),
            "annotations": key_values({**binding.annotations, MANAGED: dict(managed)}),
            "publish": False}
    return Desired(Entity("packages", binding.name, "binding"), body, _shown(body),
                   f" (bound to {binding.location})")


def _action(action: Action, built: ActionZip, package: Package,
            managed: Mapping[str, str]) -> Desired:
    code = built.base64()
    if len(code) > MAX_CODE_BASE64:
        raise ConfigError(f"action {action.qualified_name}: the zip is {len(code)} bytes in "
                          f"base64, over OpenWhisk's {MAX_CODE_BASE64} byte limit")
    body: dict[str, Any] = {
        "exec": {"kind": action.kind, "code": code, "main": action.main},
        "parameters": key_values(action.inputs, action.init_inputs),
        "annotations": key_values({**action.all_annotations(), MANAGED: dict(managed)}),
    }
    if len(json.dumps(body["parameters"])) > MAX_PARAMETERS:
        raise ConfigError(f"action {action.qualified_name}: its inputs are over OpenWhisk's "
                          f"{MAX_PARAMETERS} byte limit")
    if action.limits.to_api():
        body["limits"] = action.limits.to_api()
    if action.stale_annotations():
        body["delAnnotations"] = action.stale_annotations()
    shown = _shown(body)
    shown["exec"] = {**body["exec"], "code": f"<zip of {len(built.data)} bytes, {len(code)} in "
                                             f"base64, sha256 {built.sha256}>"}
    return Desired(Entity("actions", action.qualified_name), body, shown,
                   f" ({action.kind}, {len(built.data)} byte zip)", code_sha256=built.sha256,
                   package_inputs=package.inputs)


def _sequence(sequence: SequenceEntity, namespace: str, managed: Mapping[str, str]) -> Desired:
    components = [qualified(namespace, name) for name in sequence.components]
    body: dict[str, Any] = {
        "exec": {"kind": "sequence", "components": components},
        "parameters": [],
        "annotations": key_values({**sequence.all_annotations(), MANAGED: dict(managed)}),
    }
    if sequence.stale_annotations():
        body["delAnnotations"] = sequence.stale_annotations()
    return Desired(Entity("actions", sequence.qualified_name, "sequence"), body, _shown(body),
                   f" ({' -> '.join(sequence.components)})")


def _trigger(trigger: Trigger, managed: Mapping[str, str]) -> Desired:
    annotations = {**trigger.annotations, MANAGED: dict(managed)}
    feed = None
    if trigger.feed is not None:
        feed = Feed(trigger.feed, trigger.feed_inputs)
        digest = hashlib.sha256(json.dumps(trigger.feed_inputs, sort_keys=True).encode())
        annotations = {**annotations, "feed": trigger.feed, FEED_DIGEST: digest.hexdigest()}
    body = {"parameters": key_values(trigger.inputs), "annotations": key_values(annotations)}
    return Desired(Entity("triggers", trigger.name), body, _shown(body),
                   f" (feed {trigger.feed})" if trigger.feed else "", feed=feed)


def _rule(rule: Rule, namespace: str, managed: Mapping[str, str]) -> Desired:
    body = {"trigger": qualified(namespace, rule.trigger),
            "action": qualified(namespace, rule.action),
            "annotations": key_values({MANAGED: dict(managed)})}
    return Desired(Entity("rules", rule.name), body, _shown(body),
                   f" ({rule.trigger} -> {rule.action})")


def _shown(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with secret parameters and annotations masked (init flags kept)."""
    shown = dict(body)
    for name in ("parameters", "annotations"):
        if name in body:
            values = masked({item["key"]: item["value"] for item in body[name]})
            shown[name] = [{**item, "value": values[item["key"]]} for item in body[name]]
    return shown
