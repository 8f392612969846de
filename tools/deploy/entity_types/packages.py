"""Packages, and package bindings (wskdeploy's ``dependencies``): both live in ``packages``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.deploy.entity_types.base import (
    Desired,
    EntityType,
    Owned,
    PlanContext,
    annotated,
    annotations_of,
    key_values,
    parameters_of,
    shown,
)
from tools.manifest import Manifest


class PackageType(EntityType):
    name = "package"
    collection = "packages"
    server_annotations = frozenset({"binding"})

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for package in context.manifest.packages:
            body = {"parameters": key_values(package.inputs),
                    "annotations": annotated(package.annotations, context.managed),
                    "publish": package.public}
            found.append(Desired(self, self.entity(package.name), body, shown(body)))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(package.name)) for package in manifest.packages]

    def claims(self, entry: Mapping[str, Any], annotations: Mapping[str, Any]) -> Owned | None:
        return None if entry.get("binding") else super().claims(entry, annotations)


    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        return (super().same(desired, held)
                and held.get("publish", False) is desired.body["publish"])


class BindingType(PackageType):
    name = "binding"

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for binding in context.manifest.bindings:
            namespace, _, name = binding.location.strip("/").partition("/")
            body = {"binding": {"namespace": namespace, "name": name},
                    "parameters": key_values(binding.inputs),
                    "annotations": annotated(binding.annotations, context.managed),
                    "publish": False}
            found.append(Desired(self, self.entity(binding.name), body, shown(body),
                                 f" (bound to {binding.location})"))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(binding.name)) for binding in manifest.bindings]

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        # A binding's GET merges in the bound package's parameters.
        body = desired.body
        return (annotations_of(held, self.server_annotations) == annotations_of(body)
                and (held.get("binding") or {}) == body["binding"]
                and parameters_of(body).items() <= parameters_of(held).items())

    def claims(self, entry: Mapping[str, Any], annotations: Mapping[str, Any]) -> Owned | None:
        return Owned(self, self.entity(str(entry.get("name")))) if entry.get("binding") else None
