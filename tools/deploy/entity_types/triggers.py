"""Triggers, with OpenWhisk's feed protocol, and the rules that connect them to actions.

A trigger made from a feed is the trigger, then the feed action called with
``CREATE``; a changed feed input is a ``DELETE`` then a ``CREATE``; a trigger is
deleted only after its feed. Rules end active, whatever a re-created trigger left them as.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.deploy.client import OpenWhiskError, qualified
from tools.deploy.entity_types.base import (
    Desired,
    EntityType,
    Feed,
    Owned,
    PlanContext,
    annotated,
    annotation_map,
    annotations_of,
    key_values,
    shown,
)
from tools.manifest import Manifest

if TYPE_CHECKING:
    from tools.deploy.sync import Syncer

FEED_DIGEST = "feed-inputs-sha256"  # the feed's inputs live with the feed; their digest here


class TriggerType(EntityType):
    name = "trigger"
    collection = "triggers"

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for trigger in context.manifest.triggers:
            annotations = dict(trigger.annotations)
            feed = None
            if trigger.feed is not None:
                # binding/action is the namespace's: /ns/binding/action, as wskdeploy calls it
                action = qualified(context.namespace, trigger.feed)
                feed = Feed(action, trigger.feed_inputs)
                digest = hashlib.sha256(json.dumps(trigger.feed_inputs, sort_keys=True).encode())
                annotations.update({"feed": action, FEED_DIGEST: digest.hexdigest()})
            body = {"parameters": key_values(trigger.inputs),
                    "annotations": annotated(annotations, context.managed)}
            found.append(Desired(self, self.entity(trigger.name), body, shown(body),
                                 f" (feed {trigger.feed})" if trigger.feed else "", feed=feed))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(trigger.name), trigger.feed)
                for trigger in manifest.triggers]

    def claims(self, entry: Mapping[str, Any], annotations: Mapping[str, Any]) -> Owned | None:
        return Owned(self, self.entity(str(entry.get("name"))), annotations.get("feed"))

    def write(self, syncer: Syncer, desired: Desired, held: Mapping[str, Any] | None) -> None:
        if desired.feed is None:
            syncer.put(desired.entity, desired.body)
            return
        trigger = desired.entity.name
        old = annotation_map(held or {})
        new = annotation_map(desired.body)
        feed_changed = (held is None or syncer.force or old.get("feed") != desired.feed.action
                        or old.get(FEED_DIGEST) != new.get(FEED_DIGEST))
        if held is not None and feed_changed and old.get("feed"):
            syncer.call_feed(old["feed"], trigger, "DELETE", {})
        syncer.put(desired.entity, desired.body)
        if feed_changed:
            try:
                syncer.call_feed(desired.feed.action, trigger, "CREATE", desired.feed.inputs)
            except OpenWhiskError:
                # A trigger left with its feed annotations but no feed would read as deployed
                # next time and never fire: take it away, as wsk does, so a rerun starts clean.
                syncer.client.delete(desired.entity, syncer.namespace)
                raise

    def remove(self, syncer: Syncer, owned: Owned) -> bool:
        if owned.feed:
            syncer.call_feed(owned.feed, owned.entity.name, "DELETE", {})
        return super().remove(syncer, owned)

    def as_held(self, syncer: Syncer, owned: Owned) -> Owned:
        """With the feed the server's trigger was made from (the manifest's may differ)."""
        if not owned.feed:
            return owned
        held = self.read(syncer.client, owned.entity, syncer.namespace)
        return Owned(self, owned.entity, None if held is None else annotation_map(held).get("feed"))


class RuleType(EntityType):
    name = "rule"
    collection = "rules"

    def desired(self, context: PlanContext) -> list[Desired]:
        found = []
        for rule in context.manifest.rules:
            body = {"trigger": qualified(context.namespace, rule.trigger),
                    "action": qualified(context.namespace, rule.action),
                    "annotations": annotated({}, context.managed)}
            found.append(Desired(self, self.entity(rule.name), body, shown(body),
                                 f" ({rule.trigger} -> {rule.action})"))
        return found

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, self.entity(rule.name)) for rule in manifest.rules]

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        body = desired.body
        return (_path_name(held.get("trigger")) == body["trigger"]
                and _path_name(held.get("action")) == body["action"]
                and held.get("status") == "active"
                and annotations_of(held) == annotations_of(body))

    def write(self, syncer: Syncer, desired: Desired, held: Mapping[str, Any] | None) -> None:
        syncer.put(desired.entity, desired.body)
        if held is not None:
            # An update keeps a rule's state, and a re-created trigger leaves it inactive.
            syncer.client.set_rule_status(desired.entity.name, syncer.namespace, "active")


def _path_name(value: Any) -> str | None:
    """A rule's ``{"path": "ns/pkg", "name": "a"}`` as ``/ns/pkg/a``."""
    if not isinstance(value, dict):
        return None
    return f"/{value.get('path')}/{value.get('name')}"
