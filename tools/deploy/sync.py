"""Bringing the server to the manifest: create what is missing, update what differs, then
prune what the project no longer has.

Each entity is read first (GET) and sent only when it differs, or with ``force``;
how it is read, compared, written and removed is its type's (entity_types/).
Pruning touches only entities whose ``whisk-managed`` annotation names this
project, in the reverse of the deploy order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.deploy.client import Call, Client, Entity, OpenWhiskError, qualified, split_qualified
from tools.deploy.entity_types import ENTITY_TYPES, Desired, Owned, owner
from tools.manifest import Manifest, masked


@dataclass
class Tally:
    """What a deploy did, entity by entity, for the summary and a failure report."""

    outcomes: dict[str, list[Entity]] = field(default_factory=lambda: {
        "unchanged": [], "updated": [], "created": [], "pruned": []})

    def add(self, outcome: str, entity: Entity) -> None:
        self.outcomes[outcome].append(entity)

    @property
    def done(self) -> list[Entity]:
        return [entity for entities in self.outcomes.values() for entity in entities]

    @property
    def sent(self) -> bool:
        return any(self.outcomes[name] for name in ("updated", "created", "pruned"))

    def summary(self) -> str:
        return ", ".join(f"{len(entities)} {name}" for name, entities in self.outcomes.items())


@dataclass
class Progress:
    """How far a :func:`sync` got: what it did, the entity at hand, what is left."""

    tally: Tally = field(default_factory=Tally)
    current: Entity | None = None
    rest: list[Entity] = field(default_factory=list)


class Syncer:
    """The writes every entity type shares: a PUT, a feed call, in one namespace."""

    def __init__(self, client: Client, namespace: str, *, force: bool = False,
                 adopt: bool = False) -> None:
        self.client = client
        self.namespace = namespace
        self.force = force
        self.adopt = adopt
        self._listed: dict[str, list[dict[str, Any]]] = {}

    def held(self, desired: Desired) -> dict[str, Any] | None:
        return desired.type.read(self.client, desired.entity, self.namespace)

    def apply(self, desired: Desired) -> str:
        """Creates or updates one entity as needed: ``created``, ``updated`` or ``unchanged``."""
        held = self.held(desired)
        if held is not None and not self.force and desired.type.same(desired, held):
            return "unchanged"
        if held is not None and not self.adopt:
            _refuse_foreign(desired, held)
        desired.type.write(self, desired, held)
        return "created" if held is None else "updated"

    def owned(self, project: str) -> list[Owned]:
        """Every entity on the server that ``project`` owns, in prune order (each collection
        listed once, whichever types share it)."""
        self._listed.clear()
        return [owned for entity_type in reversed(ENTITY_TYPES)
                for owned in entity_type.owned(self, project)]

    def listed(self, collection: str) -> list[dict[str, Any]]:
        """A collection's entities, listed once per :meth:`owned`."""
        if collection not in self._listed:
            self._listed[collection] = self.client.list(collection, self.namespace)
        return self._listed[collection]

    def remove(self, owned: Owned) -> bool:
        """Deletes an entity as its type does; False when it was already gone."""
        return owned.type.remove(self, owned)

    def put(self, entity: Entity, body: Mapping[str, Any]) -> None:
        self.client.send(self.client.put_call(entity, self.namespace, body), str(entity))

    def call_feed(self, feed: str, trigger: str, event: str, inputs: Mapping[str, Any]) -> None:
        body = {**inputs, "lifecycleEvent": event,
                "triggerName": qualified(self.namespace, trigger),
                "authKey": self.client.credentials.auth}
        self.client.invoke(feed, body, f"feed {feed} ({event} for trigger {trigger})")


def _refuse_foreign(desired: Desired, held: Mapping[str, Any]) -> None:
    """Overwriting another project's entity would take it from that project (whose next
    deploy would take it back, or whose prune would not know it): only with --adopt."""
    ours, theirs = owner(desired.body), owner(held)
    if theirs is not None and theirs != ours:
        raise OpenWhiskError(str(desired.entity), None,
                             f"it belongs to project {theirs!r} (its whisk-managed annotation); "
                             "not overwritten. Deploy with --adopt to make it this project's")


def sync(syncer: Syncer, desired: Sequence[Desired], project: str, *, prune: bool,
         progress: Progress, show: Callable[[str, Entity, str], None]) -> None:
    """Brings each entity to the manifest, then prunes what ``project`` owns and the manifest
    no longer has; ``show`` hears each outcome. Raises OpenWhiskError at the first refusal,
    with ``progress`` saying what was done and what was not attempted."""
    wanted = {(item.entity.collection, item.entity.name) for item in desired}
    progress.rest = [item.entity for item in desired]
    for item in desired:
        progress.current = progress.rest.pop(0)
        outcome = syncer.apply(item)
        progress.tally.add(outcome, progress.current)
        show(outcome, item.entity, item.note)
    if prune:
        stale = [owned for owned in syncer.owned(project)
                 if (owned.entity.collection, owned.entity.name) not in wanted]
        progress.rest = [owned.entity for owned in stale]
        for owned in stale:
            progress.current = progress.rest.pop(0)
            syncer.remove(owned)
            progress.tally.add("pruned", progress.current)
            show("pruned", owned.entity, "")


def declared(manifest: Manifest) -> list[Owned]:
    """The manifest's entities in the order they are deleted."""
    return [owned for entity_type in reversed(ENTITY_TYPES)
            for owned in entity_type.declared(manifest)]


def feed_calls(desired: Iterable[Desired], namespace: str,
               show: Callable[[Call, str, Mapping[str, Any]], None]) -> None:
    """What a dry run shows of the feed calls a deploy would make."""
    for item in desired:
        if item.feed is not None:
            body = {**masked(item.feed.inputs), "lifecycleEvent": "CREATE",
                    "triggerName": qualified(namespace, item.entity.name), "authKey": "<AUTH>"}
            feed_namespace, name = split_qualified(item.feed.action)
            call = Call("POST", Entity("actions", name).path(feed_namespace),
                        {"blocking": "true", "result": "true"}, body)
            show(call, f"feed of trigger {item.entity.name}", body)
