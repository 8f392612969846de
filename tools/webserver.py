"""A local web-action server that follows OpenWhisk's translation and projection rules.

Requests to ``/api/v1/web/<namespace>/<package>/<action>[.ext][/path]`` become
action parameters and results become HTTP answers exactly as OpenWhisk's
controller does it (core/controller/.../WebActions.scala; shared reference
openwhisk.md §3), so a web action that works here works deployed: parameter
merge order and ``final``, ``raw-http``, ``require-whisk-auth``, CORS, the
``.http``/``.json``/``.html``/``.svg``/``.text`` projections, error results
projected from their ``error`` value, and OpenWhisk's own error messages.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lib.log import fields
from tools.runner import Activation, LocalAction, Outcome, invoke, tool_logger

WEB_PREFIX = "/api/v1/web/"
EXTENSIONS = (".http", ".json", ".html", ".svg", ".text")
DEFAULT_PORT = 9080
MAX_REQUEST_BYTES = 1_048_576  # OpenWhisk's request size limit
RESERVED = frozenset({"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query",
                      "__ow_body"})
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"),
)
CORS_ALLOW_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"

# OpenWhisk's messages (common/.../http/ErrorResponse.scala, Messages).
NOT_FOUND = "The requested resource does not exist."
NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."
UNAUTHORIZED = "The supplied authentication is invalid."
PROPERTY_NOT_FOUND = "Response does not include requested property."
UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
CONTENT_TYPE_MISMATCH = "Response type in header did not match generated content type."
PROCESSING_ERROR = "There was an error processing your request."
EXTENSION_NOT_SUPPORTED = f"Extension must be specified and one of [{', '.join(EXTENSIONS)}]."

_MEDIA_TYPE = re.compile(r"[\w!#$&^.+-]+/[\w!#$&^.+-]+", re.ASCII)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?")
_STATUS_TEXT = re.compile(r"[+-]?\d+")
_KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)
_TEXT_APPLICATION_TYPES = frozenset({
    "application/json", "application/javascript", "application/xml",
    "application/x-www-form-urlencoded", "application/xhtml+xml", "image/svg+xml",
})


def invalid_media(media: str) -> str:
    return f"Response is not valid '{media}'."


class Rejection(Exception):
    """A request OpenWhisk refuses, or a result it cannot project: an error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebRequest:
    method: str  # as received, e.g. "GET"
    target: str  # the request target: path and query
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass(frozen=True)
class WebResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    activation_id: str | None = None


def media_type(content_type: str) -> str:
    """``type/subtype`` in lower case, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json_family(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def is_binary(media: str) -> bool:
    """akka-http's notion: text/*, JSON, XML and a few others carry text; the rest bytes."""
    return not (media.startswith("text/") or media in _TEXT_APPLICATION_TYPES
                or media.endswith(("+json", "+xml")))


def looks_base64(text: str) -> bool:
    """OpenWhisk's test for a base64 string (Exec.isBinaryCode)."""
    trimmed = text.strip()
    return bool(trimmed) and len(trimmed) % 4 == 0 and _BASE64.fullmatch(trimmed) is not None


def decode_base64(text: str) -> bytes:
    """Java's basic decoder: strict alphabet, padding optional."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


# --- request -> parameters ---------------------------------------------------------------------

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
    if action.annotations.get("final") is True:
        protected.update(name for name, value in action.params.items() if value is not None)
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


# --- result -> HTTP answer ---------------------------------------------------------------------

def project(value: Any, extension: str) -> WebResponse:
    """The HTTP answer for a result (or an error result's ``error`` value) under ``extension``."""
    return _TRANSCODERS[extension](value)


def _as_http(value: Any) -> WebResponse:
    if not isinstance(value, dict):
        raise Rejection(400, invalid_media("message/http"))
    headers = _result_headers(value)
    status = _result_status(value)
    body = value.get("body")
    if body is None or body == "":
        return WebResponse(204 if status is None else status, _without_content_type(headers))
    if isinstance(body, str):
        return _text_answer(200 if status is None else status, headers, body)
    return _json_answer(200 if status is None else status, headers, body)


def _result_headers(value: dict[str, Any]) -> list[tuple[str, str]]:
    if "headers" not in value:
        return []
    if not isinstance(value["headers"], dict):
        raise Rejection(400, invalid_media("message/http"))
    found: list[tuple[str, str]] = []
    for name, item in value["headers"].items():
        found.extend((name, text) for text in _header_values(item))
    return found


def _header_values(item: Any) -> list[str]:
    if isinstance(item, bool):
        return ["true" if item else "false"]
    if isinstance(item, (str, int, float)):
        return [str(item)]
    if isinstance(item, list):
        return [text for inner in item for text in _header_values(inner)]
    raise Rejection(400, invalid_media("message/http"))


def _result_status(value: dict[str, Any]) -> int | None:
    if "statusCode" not in value:
        return None
    code = value["statusCode"]
    whole_float = isinstance(code, float) and code.is_integer()
    if whole_float or (isinstance(code, str) and _STATUS_TEXT.fullmatch(code)):
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or code not in _KNOWN_STATUSES:
        raise Rejection(400, invalid_media("message/http"))
    return code


def _content_type(headers: list[tuple[str, str]], default: str) -> str:
    given = next((v for k, v in headers if k.lower() == "content-type"), None)
    if given is None:
        return default
    if not _MEDIA_TYPE.fullmatch(media_type(given)):
        raise Rejection(400, UNKNOWN_CONTENT_TYPE)
    return given


def _without_content_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-type"]


def _text_answer(status: int, headers: list[tuple[str, str]], body: str) -> WebResponse:
    content_type = _content_type(headers, "text/html")
    media = media_type(content_type)
    try:
        if is_binary(media) or (is_json_family(media) and looks_base64(body)):
            data = decode_base64(body)
        else:
            data = body.encode()
    except (binascii.Error, ValueError):
        raise Rejection(400, CONTENT_TYPE_MISMATCH) from None
    if not is_binary(media) and "charset" not in content_type.lower():
        content_type += "; charset=UTF-8"
    return WebResponse(status, [*_without_content_type(headers), ("Content-Type", content_type)],
                       data)


def _json_answer(status: int, headers: list[tuple[str, str]], body: Any) -> WebResponse:
    content_type = _content_type(headers, "application/json")
    if not is_json_family(media_type(content_type)):
        raise Rejection(400, CONTENT_TYPE_MISMATCH)
    return WebResponse(status, [*_without_content_type(headers), ("Content-Type", content_type)],
                       json.dumps(body).encode())


def _as_json(value: Any) -> WebResponse:
    if not isinstance(value, (dict, list)):
        raise Rejection(400, invalid_media("application/json"))
    return WebResponse(200, [("Content-Type", "application/json")], json.dumps(value).encode())


def _as_markup(field_name: str, content_type: str) -> Callable[[Any], WebResponse]:
    """``.html``/``.svg``: the result's ``body`` (else its ``html``/``svg``) as a string."""

    def transcode(value: Any) -> WebResponse:
        if isinstance(value, dict):
            value = value["body"] if "body" in value else value.get(field_name)
        if not isinstance(value, str):
            raise Rejection(400, invalid_media(media_type(content_type)))
        return WebResponse(200, [("Content-Type", content_type)], value.encode())

    return transcode


def _as_text(value: Any) -> WebResponse:
    if isinstance(value, dict):
        if "body" not in value and "text" not in value:
            raise Rejection(404, PROPERTY_NOT_FOUND)
        value = value["body"] if "body" in value else value["text"]
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2)
    else:
        text = json.dumps(value)  # true, 12, null as JSON spells them
    return WebResponse(200, [("Content-Type", "text/plain; charset=UTF-8")], text.encode())


_TRANSCODERS: dict[str, Callable[[Any], WebResponse]] = {
    ".http": _as_http,
    ".json": _as_json,
    ".html": _as_markup("html", "text/html; charset=UTF-8"),
    ".svg": _as_markup("svg", "image/svg+xml"),
    ".text": _as_text,
}


def error_answer(status: int, message: str, activation_id: str | None = None) -> WebResponse:
    """OpenWhisk's error body: the message and a transaction id."""
    body = json.dumps({"error": message, "code": secrets.token_hex(16)}).encode()
    return WebResponse(status, [("Content-Type", "application/json")], body, activation_id)


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
        try:
            route = self.route(urlsplit(request.target).path)
            if len(request.body) > MAX_REQUEST_BYTES:
                raise Rejection(413, f"Request larger than allowed: {len(request.body)} > "
                                     f"{MAX_REQUEST_BYTES} bytes.")
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
        activation: Activation = invoke(route.action, arguments)
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


# --- HTTP --------------------------------------------------------------------------------------

class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server run in the background; :meth:`stop` leaves no thread behind.

    Keep-alive connections would hold their handler threads forever, so the
    server tracks open connections and cuts them when it stops.
    """

    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads
    poll_interval = 0.02  # how soon serve_forever() notices stop()

    def __init__(self, address: tuple[str, int],
                 handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={"poll_interval": self.poll_interval},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # its handler closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is not news
            super().handle_error(request, client_address)


class _WebHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _WebServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one JSON line per request is written by _serve instead

    def _serve(self) -> None:
        started = time.monotonic()
        length = self.headers.get("Content-Length", "0")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
            answer = error_answer(411, "Send the body with a valid Content-Length.")
            self.close_connection = True
        elif int(length) > MAX_REQUEST_BYTES:  # refused before reading: the body is never held
            answer = error_answer(413, f"Request larger than allowed: {length} > "
                                       f"{MAX_REQUEST_BYTES} bytes.")
            self.close_connection = True
        else:
            body = self.rfile.read(int(length)) if int(length) > 0 else b""
            request = WebRequest(self.command, self.path, self._lower_headers(), body)
            answer = self.server.actions.respond(request)
        path = urlsplit(self.path).path  # the query may hold secrets: never logged
        self.server.log.info(
            "%s %s %d %d ms", self.command, path, answer.status,
            int((time.monotonic() - started) * 1000),
            extra=fields(method=self.command, path=path, status=answer.status,
                         activation_id=answer.activation_id))
        self._send(answer)  # after the log line, so it is written before the client moves on

    def _lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send(self, answer: WebResponse) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.activation_id is not None:
            self.send_header("x-openwhisk-activation-id", answer.activation_id)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _WebServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], actions: WebActions) -> None:
        self.actions = actions
        self.log = tool_logger("tools.webserver")
        super().__init__(address, _WebHandler)


class WebActionServer:
    """The local web-action server; a context manager that starts and stops it."""

    def __init__(self, actions: Iterable[LocalAction], namespace: str, *,
                 host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.web_actions = WebActions(actions, namespace)
        self._address = (host, port)
        self._server: _WebServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the web server is not running")
        return self._server.url

    def action_urls(self) -> list[str]:
        return [self.url + self.web_actions.url_path(a) for a in self.web_actions.actions.values()]

    def start(self) -> WebActionServer:
        self._server = _WebServer(self._address, self.web_actions)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> WebActionServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
