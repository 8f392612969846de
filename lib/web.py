"""App Builder-shaped web responses.

OpenWhisk projects a result's ``statusCode``/``headers``/``body`` into the HTTP
answer of a web action, and does the same with the value of a top-level
``error`` key. An error must therefore carry its own status and a JSON body; a
bare ``{"error": "text"}`` becomes an opaque 400 at the controller.
"""

from __future__ import annotations

from typing import Any

JSON_HEADERS = {"Content-Type": "application/json"}
# OpenWhisk's limit on an action's result, and on a request to a web action (1 MiB).
MAX_PAYLOAD_BYTES = 1_048_576


def success_response(body: Any, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": body}


def error_response(
    status: int,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The template's ``errorResponse``, with optional extra body fields and headers."""
    error: dict[str, Any] = {"statusCode": status, "body": {"error": message, **(details or {})}}
    if headers:
        error["headers"] = dict(headers)
    return {"error": error}
