"""Actions and sequences: both live in ``actions``, in a package, and may be web actions.

An action's ``exec`` comes from its runtime (the code, built); a sequence's lists its
components, fully qualified. An update merges annotations, so the ones the manifest
dropped are named in ``delAnnotations``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tools.deploy.client import qualified
from tools.deploy.entity_types.base import (
    ConfigError,
    Desired,
    EntityType,
    Owned,
    PlanContext,
    annotated,
    annotations_of,
    check_parameters,
    key_values,
    parameters_of,
    shown,
)
from tools.manifest import Manifest

if TYPE_CHECKING:
    from tools.deploy.sync import Syncer

MAX_CODE_BASE64 = 48 * 1024 * 1024  # OpenWhisk measures the code limit on the base64 string


class ActionType(EntityType):
    name = "action"
    collection = "actions"
    read_params: ClassVar[Mapping[str, str]] = {"code": "true"}
    server_annotations = frozenset({"exec", "provide-api-key"})

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for package in context.manifest.packages:
            for action in package.actions:
                artifact = context.artifacts[action.qualified_name]
                exec_ = artifact.exec_body()
                code = exec_.get("code")
                if isinstance(code, str) and len(code) > MAX_CODE_BASE64:
                    raise ConfigError(f"action {action.qualified_name}: the zip is {len(code)} "
                                      f"bytes in base64, over OpenWhisk's {MAX_CODE_BASE64} "
                                      "byte limit")
                body: dict[str, Any] = {
                    "exec": exec_,
                    "parameters": key_values(action.inputs, action.init_inputs),
                    "annotations": annotated(action.all_annotations(), context.managed),
                }
                check_parameters(body, f"action {action.qualified_name}")
                body["limits"] = action.limits.sent()
                if action.stale_annotations():
                    body["delAnnotations"] = action.stale_annotations()
                found.append(Desired(self, self.entity(action.qualified_name), body,
                                     {**shown(body), "exec": artifact.shown_exec()},
                                     artifact.progress_note(), artifact=artifact,
                                     package_inputs=package.inputs))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(action.qualified_name))
                for action in manifest.actions()]

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        if annotations_of(held, self.server_annotations) != annotations_of(desired.body):
            return False
        assert desired.artifact is not None
        exec_ = held.get("exec") or {}
        if not desired.artifact.same_exec(exec_):
            return False
        limits = held.get("limits") or {}
        if any(limits.get(name) != value for name, value in desired.body.get("limits", {}).items()):
            return False
        merged = {**{key: (value, False) for key, value in desired.package_inputs.items()},
                  **parameters_of(desired.body)}
        return parameters_of(held) == merged

    def claims(self, entry: Mapping[str, Any], annotations: Mapping[str, Any]) -> Owned | None:
        if (annotations.get("exec") == "sequence") != (self.name == "sequence"):
            return None
        _, _, package = str(entry.get("namespace", "")).partition("/")
        name = str(entry.get("name"))
        return Owned(self, self.entity(f"{package}/{name}" if package else name))

    def write(self, syncer: Syncer, desired: Desired, held: Mapping[str, Any] | None) -> None:
        body = dict(desired.body)
        if held is not None:
            # An update merges annotations: the ones the manifest dropped must be named.
            wanted = {item["key"] for item in body["annotations"]}
            stale = {key for key in annotations_of(held, self.server_annotations)
                     if key not in wanted}
            stale = sorted({*body.get("delAnnotations", []), *stale})
            if stale:
                body["delAnnotations"] = stale
        syncer.put(desired.entity, body)


class SequenceType(ActionType):
    name = "sequence"
    read_params: ClassVar[Mapping[str, str]] = {}

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for sequence in context.manifest.sequences():
            components = [qualified(context.namespace, name) for name in sequence.components]
            body: dict[str, Any] = {
                "exec": {"kind": "sequence", "components": components},
                "parameters": [],
                "annotations": annotated(sequence.all_annotations(), context.managed),
            }
            if sequence.stale_annotations():
                body["delAnnotations"] = sequence.stale_annotations()
            found.append(Desired(self, self.entity(sequence.qualified_name), body, shown(body),
                                 f" ({' -> '.join(sequence.components)})"))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(sequence.qualified_name))
                for sequence in manifest.sequences()]

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        exec_ = held.get("exec") or {}
        return (annotations_of(held, self.server_annotations) == annotations_of(desired.body)
                and exec_.get("kind") == "sequence"
                and list(exec_.get("components") or []) == desired.body["exec"]["components"])
