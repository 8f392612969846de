"""The App Builder template's parameter helpers, in Python.

Same semantics as ``checkMissingRequestInputs``, ``stringParameters`` and
``getBearerToken`` in adobe/generator-app-common-lib, so actions ported from
Node behave the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from lib.errors import BadRequest
from lib.redact import shown

_MISSING = object()
# The most a log line shows of the parameters (see redacted_params).
MAX_LOGGED_CHARS = 16_000


def lookup(params: Mapping[str, Any], dotted_key: str) -> Any:
    """The value at ``a.b.c`` in nested dicts, or a sentinel when any step is absent."""
    value: Any = params
    for part in dotted_key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def is_missing(params: Mapping[str, Any], dotted_key: str) -> bool:
    """Absent or the empty string; ``0``, ``False`` and ``None`` count as present, as in Node."""
    value = lookup(params, dotted_key)
    return value is _MISSING or value == ""


def missing_inputs_message(
    params: Mapping[str, Any],
    required_params: Iterable[str] = (),
    required_headers: Iterable[str] = (),
) -> str | None:
    """``missing header(s) 'a,b' and missing parameter(s) 'c,d'``, or None when all are there."""
    headers = params.get("__ow_headers")
    headers = headers if isinstance(headers, Mapping) else {}
    header_names = [h.lower() for h in required_headers]  # OpenWhisk lower-cases them
    missing_headers = [h for h in header_names if is_missing(headers, h)]
    missing_params = [p for p in required_params if is_missing(params, p)]
    parts = []
    if missing_headers:
        parts.append(f"missing header(s) '{','.join(missing_headers)}'")
    if missing_params:
        parts.append(f"missing parameter(s) '{','.join(missing_params)}'")
    return " and ".join(parts) or None


def bearer_token(params: Mapping[str, Any]) -> str | None:
    """The token after ``Bearer `` in the request's ``authorization`` header, if any."""
    headers = params.get("__ow_headers")
    if not isinstance(headers, Mapping):
        return None
    value = headers.get("authorization")
    if isinstance(value, str) and value.startswith("Bearer "):
        return value[len("Bearer "):]
    return None


def redacted_params(params: Mapping[str, Any], max_chars: int = MAX_LOGGED_CHARS) -> str:
    """The parameters as JSON, safe to log: every secret-named key at any depth is hidden.

    Bounded, so that a hostile request costs little to log: eight levels deep,
    200 entries and 1,000 characters a string at most are shown (the rest is
    counted), known secret values are masked, and the text is cut at
    ``max_chars``.
    """
    text = json.dumps(shown(params, max_chars=max_chars), default=repr, ensure_ascii=False)
    if len(text) > max_chars:
        text = text[:max_chars] + f"…<{len(text) - max_chars} more characters>"
    return text


def boolean_param(params: Mapping[str, Any], name: str, default: bool) -> bool:
    """A ``true``/``false`` parameter, from JSON or from a query string."""
    value = params.get(name, "")
    if value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadRequest(f"parameter '{name}' must be true or false")
