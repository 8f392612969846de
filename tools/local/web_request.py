"""A web request turned into action parameters, as OpenWhisk's controller does it.

Parameter merge order, ``final``, ``raw-http``, reserved ``__ow_*`` names and
``require-whisk-auth``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tools.local.runner import LocalAction
from tools.local.web_types import NOT_ALLOWED, Rejection, WebRequest, is_binary, is_json_family
from tools.loopback import media_type

RESERVED = frozenset({"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query",
                      "__ow_body"})


def request_body(request: WebRequest, raw_http: bool) -> Any:
    """The body as OpenWhisk reads it: JSON or form fields, else a string (base64 for bytes)."""
    media = media_type(request.headers.get("content-type", "application/octet-stream"))
    if not request.body:
        return "" if raw_http else None
    if not raw_http and is_json_family(media):
        try:
            return json.loads(request.body)
        except ValueError as exc:
            raise Rejection(400, f"The request content was malformed: {exc}") from None
        except RecursionError:
            raise Rejection(400, "The request content was malformed: nested too deeply.") \
                from None
    if not raw_http and media == "application/x-www-form-urlencoded":
        return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    if is_binary(media) or media == "application/json":
        return base64.b64encode(request.body).decode()
    return request.body.decode("utf-8", "replace")


def action_arguments(action: LocalAction, request: WebRequest, path: str) -> dict[str, Any]:
    """The action's parameters for a web request, in OpenWhisk's order (later wins).

    Deployed inputs, then ``__ow_method``/``__ow_headers``/``__ow_path``, then the
    query, then the body; a ``raw-http`` action gets ``__ow_query``/``__ow_body``
    instead. Raises :class:`Rejection` when the request names one of OpenWhisk's
    reserved ``__ow_*`` names or, under ``final``, a parameter the deployment defines.
    """
    raw_http = action.annotations.get("raw-http") is True
    query_string = urlsplit(request.target).query
    body = request_body(request, raw_http)
    metadata = {
        "__ow_method": request.method.lower(),
        "__ow_headers": dict(request.headers),
        "__ow_path": path,
    }
    if raw_http:
        return {**action.params, **metadata, "__ow_query": query_string, "__ow_body": body}
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    body_fields = body if isinstance(body, dict) else {}
    protected = set(RESERVED)
    if action.annotations.get("final") is True:  # init inputs are defined parameters too
        protected.update(name for name, value in action.params.items() if value is not None)
        protected.update(action.action.init_inputs)
    if protected & (query.keys() | body_fields.keys()):
        raise Rejection(400, NOT_ALLOWED)
    opaque = {} if body is None or isinstance(body, dict) else {"__ow_body": body}
    return {**action.params, **metadata, **query, **body_fields, **opaque}


def authorized(annotations: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """``require-whisk-auth``: a string or number must equal ``X-Require-Whisk-Auth``.

    ``true`` asks for an authenticated OpenWhisk user, which this server has no
    way to check, so it refuses, as OpenWhisk refuses anonymous callers.
    """
    if "require-whisk-auth" not in annotations:
        return True
    expected = annotations["require-whisk-auth"]
    if isinstance(expected, bool) or not isinstance(expected, (str, int, float)):
        return False
    given = headers.get("x-require-whisk-auth")
    return given is not None and secrets.compare_digest(given.encode(), str(expected).encode())
