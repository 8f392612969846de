"""The manifest's API gateway routes, answered locally as the gateway answers them.

``METHOD /api/<basepath><relpath>`` becomes the request the gateway sends the route's web
action: a ``json`` (``text``, ``html``, ``svg``) route calls ``<action>.json`` (…) and answers
what it projects; ``http`` calls ``<action>.http`` with the request path, so ``__ow_path`` is
``/<basepath><relpath>`` with the actual values. Path parameters (``{isbn}``) match one
segment. A path the manifest does not declare, or a method its path lacks, is the gateway's
404 (under ``/api/v1/``, OpenWhisk's own, the web server's answer). The web-action rules
then apply unchanged (tools/local/web_actions.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from tools.local.runner import LocalAction
from tools.local.web_types import WebRequest, WebResponse

GATEWAY_PREFIX = "/api"
WEB_PREFIX = "/api/v1/web/"  # the web actions' own URLs, which a route never shadows
CONTROLLER_PREFIX = "/v1/"  # after /api: OpenWhisk's own paths
NOT_FOUND = {"status": 404, "message": "Error: Not found."}
NO_VERB = {"status": 404, "message": "Error: Whoops. Verb not supported."}
_PARAMETER = re.compile(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}")


def route_urls(actions: Iterable[LocalAction], server: str) -> list[str]:
    """``METHOD <server>/api/<basepath><relpath>`` of each route the served actions answer."""
    return [f"{route.method} {server}{GATEWAY_PREFIX}{route.path}"
            for local in actions for route in local.action.routes]


def gateway_request(actions: Iterable[LocalAction], namespace: str,
                    request: WebRequest) -> WebRequest | WebResponse | None:
    """The web request a route makes of its action; the gateway's 404 for a route the manifest
    does not declare; None for a path that is no route's (a web action's, or none at all)."""
    parts = urlsplit(request.target)
    path = parts.path
    if path.startswith(WEB_PREFIX) or not path.startswith(GATEWAY_PREFIX + "/"):
        return None
    path = path[len(GATEWAY_PREFIX):]
    matched = [(local, route) for local in actions for route in local.action.routes
               if _pattern(route.path).fullmatch(path)]
    if not matched:  # OpenWhisk's own /api/v1/… keeps the web server's answer
        return None if path.startswith(CONTROLLER_PREFIX) else _answer(NOT_FOUND)
    found = next(((local, route) for local, route in matched
                  if route.method == request.method.upper()), None)
    if found is None:
        return _answer(NO_VERB)
    local, route = found
    target = (f"{WEB_PREFIX}{namespace}/{local.action.package}/{local.action.name}."
              f"{route.response}" + (path if route.response == "http" else ""))
    return replace(request, target=target + (f"?{parts.query}" if parts.query else ""))


def _pattern(path: str) -> re.Pattern[str]:
    """The route's path with each ``{x}`` one segment, a trailing ``/`` optional."""
    return re.compile(_PARAMETER.sub("[^/]+", re.escape(path.rstrip("/"))) + "/?")


def _answer(body: dict[str, object]) -> WebResponse:
    return WebResponse(404, [("Content-Type", "application/json")], json.dumps(body).encode())
