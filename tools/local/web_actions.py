"""Routing ``/api/v1/web/<namespace>/<package>/<action>[.ext][/path]`` to local actions.

No HTTP here: :class:`WebActions` answers a :class:`WebRequest` with a
:class:`WebResponse`, applying CORS, ``require-whisk-auth`` and the projections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lib.web import MAX_PAYLOAD_BYTES
from tools.local.routes import gateway_request
from tools.local.runner import Activation, EnvironmentValueError, LocalAction, Outcome, invoke
from tools.local.web_request import action_arguments, authorized
from tools.local.web_result import project
from tools.local.web_types import (
    NOT_FOUND,
    PROCESSING_ERROR,
    UNAUTHORIZED,
    Rejection,
    WebRequest,
    WebResponse,
    error_answer,
)

WEB_PREFIX = "/api/v1/web/"
EXTENSIONS = (".http", ".json", ".html", ".svg", ".text")
EXTENSION_NOT_SUPPORTED = f"Extension must be specified and one of [{', '.join(EXTENSIONS)}]."
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"),
)
CORS_ALLOW_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"


# --- routing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    action: LocalAction
    extension: str
    path: str  # what follows the action (and extension): __ow_path


class WebActions:
    """Answers web requests for a set of actions in one namespace; no HTTP here."""

    def __init__(self, actions: Iterable[LocalAction], namespace: str) -> None:
        self.namespace = namespace
        # Only web-exported actions answer; any other name is "not found", as in OpenWhisk.
        self.actions = {(a.action.package, a.action.name): a for a in actions
                        if a.annotations.get("web-export") is True}

    def url_path(self, action: LocalAction) -> str:
        return f"{WEB_PREFIX}{self.namespace}/{action.action.package}/{action.action.name}"

    def respond(self, request: WebRequest) -> WebResponse:
        routed = gateway_request(self.actions.values(), self.namespace, request)
        if isinstance(routed, WebResponse):  # the API gateway's 404
            return routed
        request = routed or request  # an API route: the request it makes of its web action
        try:
            route = self.route(urlsplit(request.target).path)
            if len(request.body) > MAX_PAYLOAD_BYTES:
                raise Rejection(413, f"Request larger than allowed: {len(request.body)} > "
                                     f"{MAX_PAYLOAD_BYTES} bytes.")
            return self._respond(route, request)
        except Rejection as rejection:
            return error_answer(rejection.status, rejection.message)

    def route(self, path: str) -> Route:
        if not path.startswith(WEB_PREFIX):
            raise Rejection(404, NOT_FOUND)
        parts = path[len(WEB_PREFIX):].split("/", 3)
        if len(parts) < 3 or parts[0] != self.namespace:
            raise Rejection(404, NOT_FOUND)
        package, segment = parts[1], parts[2]
        rest = "/" + parts[3] if len(parts) == 4 else ""
        name, extension = self._split_extension(package, segment)
        action = self.actions.get((package, name))
        if action is None:
            raise Rejection(404, NOT_FOUND)
        return Route(action, extension, rest)

    def _split_extension(self, package: str, segment: str) -> tuple[str, str]:
        """Known extensions are stripped; an unknown one on an existing action is 406."""
        for extension in EXTENSIONS:
            if segment.endswith(extension) and len(segment) > len(extension):
                return segment[: -len(extension)], extension
        if (package, segment) not in self.actions and "." in segment:
            base = segment.rsplit(".", 1)[0]
            if (package, base) in self.actions:
                raise Rejection(406, EXTENSION_NOT_SUPPORTED)
        return segment, ".http"

    def _respond(self, route: Route, request: WebRequest) -> WebResponse:
        annotations = route.action.annotations
        cors = annotations.get("web-custom-options") is not True
        extra = _cors_headers(request.headers) if cors else []
        if cors and request.method == "OPTIONS":
            return WebResponse(200, extra)
        if not authorized(annotations, request.headers):
            answer = error_answer(401, UNAUTHORIZED)
        else:
            try:
                arguments = action_arguments(route.action, request, route.path)
            except Rejection as rejection:
                answer = error_answer(rejection.status, rejection.message)
            else:
                answer = self._activate(route, arguments)
        return WebResponse(answer.status, [*extra, *answer.headers], answer.body,
                           answer.activation_id)

    @staticmethod
    def _activate(route: Route, arguments: dict[str, Any]) -> WebResponse:
        try:
            activation: Activation = invoke(route.action, arguments)
        except EnvironmentValueError as exc:  # a caller's value for an init input
            return error_answer(400, str(exc))
        if activation.outcome is Outcome.DEVELOPER_ERROR:
            return error_answer(400, PROCESSING_ERROR, activation.activation_id)
        value = activation.result
        if activation.outcome is Outcome.APPLICATION_ERROR:
            value = value["error"]
        try:
            answer = project(value, route.extension)
        except Rejection as rejection:
            return error_answer(rejection.status, rejection.message, activation.activation_id)
        return WebResponse(answer.status, answer.headers, answer.body, activation.activation_id)


def _cors_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    allow = headers.get("access-control-request-headers", CORS_ALLOW_HEADERS)
    return [*CORS_HEADERS, ("Access-Control-Allow-Headers", allow)]
