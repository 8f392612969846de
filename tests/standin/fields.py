"""An entity's fields as the controller reads them from a PUT body and gives them back:
parameters and annotations (by key, answered sorted by key), publish, limits, and fully
qualified names (in apache/openwhisk, common/scala/src/main/scala/org/apache/openwhisk/core/
entity/: Parameter.scala, Limits.scala, FullyQualifiedEntityName.scala)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tests.standin.wire import ENTITY_NAME, MALFORMED, Doc, Entries, Json, Reject

LIMITS = {  # field: (min, max, default, what, unit) of stock OpenWhisk
    "timeout": (100, 300_000, 60_000, "duration", "milliseconds"),
    "memory": (128, 512, 256, "memory", "MB"),
    "logs": (0, 10, 10, "log size", "MB"),
    "concurrency": (1, 1, 1, "concurrency", ""),
}


def default_limits() -> dict[str, int]:
    """The limits an action gets for those it does not set."""
    return {name: spec[2] for name, spec in LIMITS.items()}


def as_dict(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``[{key, value}, …]`` (parameters, annotations) as ``{key: value}``."""
    return {entry["key"]: entry["value"] for entry in entries}


def entries_of(doc: Doc | None, name: str) -> Entries:
    """A document's parameters or annotations by key; none for no document."""
    return {entry["key"]: entry for entry in doc[name]} if doc else {}


def as_list(entries: Entries) -> list[dict[str, Any]]:
    """Entries as the controller answers them: sorted by key, not in the order sent."""
    return [entries[key] for key in sorted(entries)]


def key_value(key: str, value: Json) -> dict[str, Any]:
    """One parameter or annotation."""
    return {"key": key, "value": value}


def parse_entries(body: Doc, name: str) -> Entries | None:
    """Parameters or annotations as the controller reads them; None when absent."""
    if name not in body:
        return None
    value, read = body[name], {}
    for item in value if isinstance(value, list) else [None]:
        if not (isinstance(item, dict) and isinstance(item.get("key"), str) and "value" in item
                and isinstance(item.get("init", False), bool)):
            raise Reject(400, f"{MALFORMED}parameters malformed could not read directly: "
                              f"{json.dumps(value)}")
        read[item["key"]] = {**key_value(item["key"], item["value"]),
                             **({"init": True} if item.get("init") else {})}
    return read


def parse_publish(body: Doc, old: Doc | None) -> bool:
    """``publish`` as sent, else as it was (false on create)."""
    publish = body.get("publish", old["publish"] if old else False)
    if not isinstance(publish, bool):
        raise Reject(400, f"{MALFORMED}Expected Boolean as JsBoolean, but got {publish!r}")
    return publish


def parse_limits(body: Doc, bounds: Mapping[str, tuple[Any, ...]] = LIMITS) -> dict[str, int]:
    """The limits sent, each checked against the server's bounds (stock OpenWhisk's unless it
    was configured otherwise); unknown ones ignored."""
    given, read = body.get("limits") or {}, {}
    if not isinstance(given, dict):
        raise Reject(400, f"{MALFORMED}limits malformed")
    for name, value in given.items():
        if name not in bounds:
            continue
        low, high, _, what, unit = bounds[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise Reject(400, f"{MALFORMED}{name} limit must be whole number")
        if not low <= int(value) <= high:
            side, bound = ("below", low) if value < low else ("exceeds", high)
            raise Reject(400, f"{MALFORMED}{what} {int(value)} {unit} {side} allowed threshold of "
                              f"{bound} {unit}".replace("  ", " ").rstrip())
        read[name] = int(value)
    return read


def fqn(name: Json, namespace: str) -> list[str]:
    """``/ns/pkg/a`` as ``[ns, pkg, a]`` (``pkg/a`` reads as namespace ``pkg``); ``_`` resolved."""
    parts = name.strip().lstrip("/").split("/") if isinstance(name, str) else []
    if not 2 <= len(parts) <= 3 or not all(ENTITY_NAME.match(part) for part in parts):
        raise Reject(400, MALFORMED + "The fully qualified name of the entity must contain at "
                                      "least the namespace and the name of the entity.")
    return [namespace if parts[0] == "_" else parts[0], *parts[1:]]


def docid_of(entity: Mapping[str, str]) -> str:
    """``ns/pkg/a`` from ``{"path": "ns/pkg", "name": "a"}`` (or ``{namespace, name}``)."""
    return f"{entity.get('path') or entity['namespace']}/{entity['name']}"
