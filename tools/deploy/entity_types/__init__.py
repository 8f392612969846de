"""The entity types a project deploys, in deploy order; pruning and undeploying go the other
way (what refers to something goes before it). Adding a type is a class and a line here."""

from __future__ import annotations

from tools.deploy.entity_types.actions import ActionType, SequenceType
from tools.deploy.entity_types.apis import RouteType
from tools.deploy.entity_types.base import (
    MANAGED,
    ConfigError,
    Desired,
    EntityType,
    Owned,
    PlanContext,
    annotation_map,
    managed_annotation,
    owner,
)
from tools.deploy.entity_types.packages import BindingType, PackageType
from tools.deploy.entity_types.triggers import FEED_DIGEST, RuleType, TriggerType

PACKAGE, BINDING, ACTION = PackageType(), BindingType(), ActionType()
SEQUENCE, TRIGGER, RULE = SequenceType(), TriggerType(), RuleType()
ROUTE = RouteType()  # after the actions it calls, as wskdeploy does; pruned first
ENTITY_TYPES: tuple[EntityType, ...] = (PACKAGE, BINDING, ACTION, SEQUENCE, TRIGGER, RULE, ROUTE)

__all__ = ["ACTION", "BINDING", "ENTITY_TYPES", "FEED_DIGEST", "MANAGED", "PACKAGE", "ROUTE",
           "RULE", "SEQUENCE", "TRIGGER", "ConfigError", "Desired", "EntityType", "Owned",
           "PlanContext", "annotation_map", "managed_annotation", "owner"]
