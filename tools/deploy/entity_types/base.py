"""An entity type: what the manifest wants of it, how the server's copy is read and compared,
how it is written and removed, and which of the server's are this project's.

The plan, the comparison and the writes stay separate steps: :meth:`EntityType.desired`
only builds bodies, :meth:`EntityType.same` only compares, :meth:`EntityType.write` and
:meth:`EntityType.remove` alone send anything. Each step has a default that suits a plain
OpenWhisk entity (a PUT with ``overwrite``, a DELETE); a type overrides what differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tools.deploy.client import Call, Client, Entity, put
from tools.errors import ToolError
from tools.manifest import Manifest, masked
from tools.runtimes import Artifact

if TYPE_CHECKING:
    from tools.deploy.sync import Syncer

MANAGED = "whisk-managed"
MAX_PARAMETERS = 1024 * 1024  # stored parameters, as JSON


class ConfigError(ToolError):
    """Something to fix before deploying (a zip too large, a kind the server lacks)."""


@dataclass(frozen=True)
class Feed:
    """The feed action a trigger is made from, and what the feed call gives it."""

    action: str  # fully qualified
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Desired:
    """One entity as the manifest wants it: the PUT body, and the same with secrets masked."""

    type: EntityType
    entity: Entity
    body: dict[str, Any]
    shown: Mapping[str, Any]  # the body with secrets masked and code summarised
    note: str = ""
    feed: Feed | None = None
    artifact: Artifact | None = None  # an action's built code
    package_inputs: Mapping[str, Any] = field(default_factory=dict)  # merged into an action GET


@dataclass(frozen=True)
class Owned:
    """An entity of this project found on the server, and what deleting it needs to know."""

    type: EntityType
    entity: Entity
    feed: str | None = None


@dataclass(frozen=True)
class PlanContext:
    """What every type's plan reads: the manifest, the built code, where, and who owns it."""

    manifest: Manifest
    artifacts: Mapping[str, Artifact]  # by the action's qualified name
    namespace: str
    managed: Mapping[str, str]


class EntityType:
    """The defaults: an entity of ``collection`` written whole by PUT and deleted by DELETE."""

    name: str = ""  # what the user reads: "package", "binding", "action" …
    collection: str = ""  # the REST collection: "packages", "actions" …
    read_params: ClassVar[Mapping[str, str]] = {}  # what a GET asks for besides the entity
    server_annotations: ClassVar[frozenset[str]] = frozenset()  # what the server adds itself

    def entity(self, name: str) -> Entity:
        return Entity(self.collection, name, self.name)

    # --- what the manifest wants --------------------------------------------------------------

    def desired(self, context: PlanContext) -> list[Desired]:
        """The manifest's entities of this type, bodies checked against OpenWhisk's limits."""
        raise NotImplementedError

    def declared(self, manifest: Manifest) -> list[Owned]:
        """The manifest's entities of this type, as undeploy deletes them."""
        raise NotImplementedError

    # --- what the server holds ----------------------------------------------------------------

    def read(self, client: Client, entity: Entity, namespace: str) -> dict[str, Any] | None:
        return client.get(entity, namespace, **self.read_params)

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        """Whether ``held`` (the server's GET) already is ``desired``."""
        return (annotations_of(held, self.server_annotations)
                == annotations_of(desired.body)
                and parameters_of(held) == parameters_of(desired.body))

    def owned(self, syncer: Syncer, project: str) -> list[Owned]:
        """The server's entities of this type that ``project`` owns: those of its collection
        whose ``whisk-managed`` annotation names the project."""
        found = []
        for entry in syncer.listed(self.collection):
            if owner(entry) == project:
                claimed = self.claims(entry, annotation_map(entry))
                if claimed is not None:
                    found.append(claimed)
        return found

    def claims(self, entry: Mapping[str, Any], annotations: Mapping[str, Any]) -> Owned | None:
        """An entry of this type's listing, when it is of this type."""
        return Owned(self, self.entity(str(entry.get("name"))))

    # --- sending ------------------------------------------------------------------------------

    def write(self, syncer: Syncer, desired: Desired, held: Mapping[str, Any] | None) -> None:
        """Creates or updates the entity; ``held`` is what the server had (None: nothing)."""
        syncer.put(desired.entity, desired.body)

    def as_held(self, syncer: Syncer, owned: Owned) -> Owned:
        """A manifest's entity as undeploy must delete it, knowing what the server holds."""
        return owned

    def remove(self, syncer: Syncer, owned: Owned) -> bool:
        """Deletes an entity; False when it was already gone."""
        return syncer.client.delete(owned.entity, syncer.namespace)

    # --- showing ------------------------------------------------------------------------------

    def shown_call(self, desired: Desired, apihost: str, namespace: str) -> Call:
        """The request a dry run shows for ``desired``, its secrets masked."""
        return put(desired.entity, namespace, desired.shown)

    def url(self, held: Mapping[str, Any]) -> str:
        """Where the server's copy says the entity answers HTTP, if it says (a route's URL)."""
        return ""

    def __repr__(self) -> str:
        return f"<entity type {self.name}>"


# --- what the types share -------------------------------------------------------------------

def managed_annotation(project: str, manifest: Manifest, source: bytes) -> dict[str, str]:
    """wskdeploy's ``whisk-managed``: the project, the manifest's hash and file."""
    return {"projectName": project, "projectHash": hashlib.sha256(source).hexdigest(),
            "file": manifest.managed_file or manifest.path.name}


def key_values(values: Mapping[str, Any], init: frozenset[str] = frozenset()
               ) -> list[dict[str, Any]]:
    return [{"key": key, "value": value, **({"init": True} if key in init else {})}
            for key, value in values.items()]


def annotated(annotations: Mapping[str, Any], managed: Mapping[str, str]
              ) -> list[dict[str, Any]]:
    """The annotations with ``whisk-managed`` marking the entity as this project's."""
    return key_values({**annotations, MANAGED: dict(managed)})


def shown(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with secret parameters and annotations masked (init flags kept)."""
    masked_body = dict(body)
    for name in ("parameters", "annotations"):
        if name in body:
            values = masked({item["key"]: item["value"] for item in body[name]})
            masked_body[name] = [{**item, "value": values[item["key"]]} for item in body[name]]
    return masked_body


def annotation_map(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity's annotations as a mapping, whatever shape the server gave them in."""
    return {item["key"]: item.get("value") for item in entity.get("annotations") or []
            if isinstance(item, dict) and "key" in item}


def owner(entity: Mapping[str, Any]) -> str | None:
    """The project an entity's ``whisk-managed`` annotation names, if any."""
    managed = annotation_map(entity).get(MANAGED)
    name = managed.get("projectName") if isinstance(managed, dict) else None
    return name if isinstance(name, str) else None


def annotations_of(entity: Mapping[str, Any],
                   added: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The annotations a comparison looks at: less those the server adds, and less the
    manifest's hash (it says which version last wrote an entity, not what it holds)."""
    found = {key: value for key, value in annotation_map(entity).items() if key not in added}
    if isinstance(found.get(MANAGED), dict):
        found[MANAGED] = {k: v for k, v in found[MANAGED].items() if k != "projectHash"}
    return found


def parameters_of(entity: Mapping[str, Any]) -> dict[str, tuple[Any, bool]]:
    """Each parameter's value and whether it is an init parameter."""
    return {item["key"]: (item.get("value"), item.get("init") is True)
            for item in entity.get("parameters") or [] if isinstance(item, dict)}


def check_parameters(body: Mapping[str, Any], entity: str) -> None:
    if len(json.dumps(body["parameters"])) > MAX_PARAMETERS:
        raise ConfigError(f"{entity}: its inputs are over OpenWhisk's {MAX_PARAMETERS} byte "
                          "limit")


__all__ = ["MANAGED", "ConfigError", "Desired", "EntityType", "Feed", "Owned", "PlanContext",
           "annotated", "annotation_map", "annotations_of", "key_values", "managed_annotation",
           "parameters_of", "shown"]
