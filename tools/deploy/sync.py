"""Bringing the server to the manifest: create what is missing, update what differs, prune
what the project no longer has.

Each entity is read first (GET) and sent only when it differs, or with
``force``. A trigger made from a feed is written with OpenWhisk's feed protocol:
the trigger, then the feed action called with ``CREATE``; a changed feed input
is a ``DELETE`` then a ``CREATE``; a trigger is deleted only after its feed.
Rules end active, whatever a re-created trigger left them as. Pruning touches
only entities whose ``whisk-managed`` annotation names this project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.deploy.client import Call, Client, Entity, OpenWhiskError, put, qualified
from tools.deploy.compare import stale_annotations, unchanged
from tools.deploy.plan import FEED_DIGEST, MANAGED, Desired
from tools.manifest import masked

# Deleted in this order: what refers to something goes before it.
PRUNE_ORDER = ("rule", "trigger", "sequence", "action", "binding", "package")


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


@dataclass(frozen=True)
class Owned:
    """An entity of this project found on the server, and what deleting it needs to know."""

    entity: Entity
    feed: str | None = None


class Syncer:
    def __init__(self, client: Client, namespace: str, *, force: bool = False) -> None:
        self.client = client
        self.namespace = namespace
        self.force = force

    def apply(self, desired: Desired) -> str:
        """Creates or updates one entity as needed: ``created``, ``updated`` or ``unchanged``."""
        read = {"code": "true"} if desired.kind == "action" else {}
        held = self.client.get(desired.entity, self.namespace, **read)
        if held is not None and not self.force and unchanged(desired, held):
            return "unchanged"
        body = dict(desired.body)
        if held is not None and desired.entity.collection == "actions":
            stale = sorted({*body.get("delAnnotations", []), *stale_annotations(desired, held)})
            if stale:
                body["delAnnotations"] = stale
        if desired.feed is not None:
            self._write_feed_trigger(desired, body, held)
        else:
            self._put(desired.entity, body)
        if desired.kind == "rule" and held is not None:
            # An update keeps a rule's state, and a re-created trigger leaves it inactive.
            self.client.set_rule_status(desired.entity.name, self.namespace, "active")
        return "created" if held is None else "updated"

    def owned(self, project: str) -> list[Owned]:
        """Every entity on the server whose ``whisk-managed`` names ``project``, in prune order."""
        found: list[Owned] = []
        for collection in ("rules", "triggers", "actions", "packages"):
            for entry in self.client.list(collection, self.namespace):
                annotations = _annotations(entry)
                managed = annotations.get(MANAGED)
                if not isinstance(managed, dict) or managed.get("projectName") != project:
                    continue
                found.append(Owned(_listed_entity(collection, entry, annotations),
                                   annotations.get("feed") if collection == "triggers" else None))
        return sorted(found, key=lambda owned: PRUNE_ORDER.index(_kind(owned.entity)))

    def remove(self, owned: Owned) -> bool:
        """Deletes an entity, a trigger's feed first; False when it was already gone."""
        if owned.feed:
            self._call_feed(owned.feed, owned.entity.name, "DELETE", {})
        return self.client.delete(owned.entity, self.namespace)

    def held_feed(self, entity: Entity) -> str | None:
        """The feed a trigger on the server was made from, if it exists and has one."""
        held = self.client.get(entity, self.namespace)
        return None if held is None else _annotations(held).get("feed")

    def _write_feed_trigger(self, desired: Desired, body: dict[str, Any],
                            held: Mapping[str, Any] | None) -> None:
        assert desired.feed is not None
        trigger = desired.entity.name
        old = _annotations(held or {})
        new = {item["key"]: item["value"] for item in body["annotations"]}
        feed_changed = (held is None or self.force or old.get("feed") != desired.feed.action
                        or old.get(FEED_DIGEST) != new.get(FEED_DIGEST))
        if held is not None and feed_changed and old.get("feed"):
            self._call_feed(old["feed"], trigger, "DELETE", {})
        self._put(desired.entity, body)
        if feed_changed:
            try:
                self._call_feed(desired.feed.action, trigger, "CREATE", desired.feed.inputs)
            except OpenWhiskError:
                # A trigger left with its feed annotations but no feed would read as deployed
                # next time and never fire: take it away, as wsk does, so a rerun starts clean.
                self.client.delete(desired.entity, self.namespace)
                raise

    def _call_feed(self, feed: str, trigger: str, event: str, inputs: Mapping[str, Any]) -> None:
        body = {**inputs, "lifecycleEvent": event,
                "triggerName": qualified(self.namespace, trigger),
                "authKey": self.client.credentials.auth}
        self.client.invoke(feed, body, f"feed {feed} ({event} for trigger {trigger})")

    def _put(self, entity: Entity, body: Mapping[str, Any]) -> None:
        self.client.send(put(entity, self.namespace, body), str(entity))


def feed_calls(desired: Iterable[Desired], namespace: str,
               show: Callable[[Call, str, Mapping[str, Any]], None]) -> None:
    """What a dry run shows of the feed calls a deploy would make."""
    for item in desired:
        if item.feed is not None:
            body = {**masked(item.feed.inputs), "lifecycleEvent": "CREATE",
                    "triggerName": qualified(namespace, item.entity.name), "authKey": "<AUTH>"}
            feed_namespace, _, name = item.feed.action.lstrip("/").partition("/")
            call = Call("POST", Entity("actions", name).path(feed_namespace),
                        {"blocking": "true", "result": "true"}, body)
            show(call, f"feed of trigger {item.entity.name}", body)


def _annotations(entity: Mapping[str, Any]) -> dict[str, Any]:
    return {item["key"]: item.get("value") for item in entity.get("annotations") or []
            if isinstance(item, dict) and "key" in item}


def _listed_entity(collection: str, entry: Mapping[str, Any],
                   annotations: Mapping[str, Any]) -> Entity:
    name = str(entry.get("name"))
    if collection == "actions":
        _, _, package = str(entry.get("namespace", "")).partition("/")
        label = "sequence" if annotations.get("exec") == "sequence" else ""
        return Entity("actions", f"{package}/{name}" if package else name, label)
    if collection == "packages" and entry.get("binding"):
        return Entity("packages", name, "binding")
    return Entity(collection, name)


def _kind(entity: Entity) -> str:
    return entity.label or entity.collection[:-1]
