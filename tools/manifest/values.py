"""Values a manifest may hold: JSON scalars, and wskdeploy's typed inputs' conversions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

NOT_JSON = "a YAML {} is not a JSON value; quote it to pass it as a string"


def is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # JSON has no NaN or infinity
    return value is None or isinstance(value, (str, int, bool))


def _to_string(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TypeError(value)
    return value if isinstance(value, str) else json.dumps(value)


def _to_integer(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise TypeError(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    return float(value)


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}[str(value).strip().lower()]


def _to_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string, "integer": _to_integer, "float": _to_float, "boolean": _to_boolean,
    "json": _to_json,
}


def zero_value(type_: str) -> Any:
    """What wskdeploy gives an input of ``type_`` with no value: ``""``, 0, 0.0, false, {}."""
    return {"string": "", "integer": 0, "float": 0.0, "boolean": False, "json": {}}[type_]


def type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)
