"""An in-process emulator of Adobe IMS (v3 token endpoint) and AEM's contentRequestsQuota.

It lets a fresh clone run the action end to end without credentials, and the
test suite exercise the real HTTP path on loopback: it checks requests the way
the documented services do (see shared reference adobe.md §2 and §5), and can
be scripted to be slow, throttle, fail, drop connections or expire tokens.
It is a developer tool: tools/ never ships in the action zip.
"""

from __future__ import annotations

import datetime
import enum
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lib.endpoints import is_loopback
from tools.webserver import LoopbackServer, media_type

SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-0123456789"  # noqa: S105 - a public test value
SANDBOX_ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
SANDBOX_SCOPES: tuple[str, ...] = ("openid", "AdobeID", "read_organizations")

IMS_TOKEN_PATH = "/ims/token/v3"  # noqa: S105 - a URL path
AEM_QUOTA_PATH = "/adobe/stats/statistics/contentRequestsQuota"
ENDPOINTS = ("ims", "aem")
_FORM = "application/x-www-form-urlencoded"
_PROBLEM = "application/problem+json"
_CREDENTIAL_FIELDS = ("grant_type", "client_id", "client_secret", "scope")
# A plausible monthly quota; AEM's real schema is not public, so the action passes it through.
_QUOTA_LIMIT = 5_000_000
_QUOTA_USED = 1_234_567


class _Absent(enum.Enum):
    ABSENT = "absent"


# Set ``AdobeEmulator.expires_in`` to this to leave the field out of token answers.
ABSENT = _Absent.ABSENT


@dataclass(frozen=True)
class Fault:
    """One scripted answer replacing the emulator's normal one.

    With ``body=None`` and ``status=200`` the normal answer is sent (useful with
    ``delay``); with ``body=None`` and an error status, the endpoint's usual
    error body for that status.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: bytes | str | dict | list | None = None
    delay: float = 0.0
    drop: bool = False
    trickle: float = 0.0  # seconds between the body's bytes: a slow-drip answer


@dataclass(frozen=True)
class RecordedRequest:
    endpoint: str  # "ims" | "aem" | "other"
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection_id: int
    received_at: float  # time.monotonic()


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _json_reply(status: int, document: Any, content_type: str = "application/json") -> _Reply:
    return _Reply(status, {"Content-Type": content_type}, json.dumps(document).encode())


def _oauth_error(status: int, error: str, description: str) -> _Reply:
    return _json_reply(status, {"error": error, "error_description": description})


def _problem(status: int, title: str, detail: str) -> _Reply:
    document = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return _json_reply(status, document, _PROBLEM)


class AdobeEmulator:
    """IMS + AEM on one loopback port; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        org_id: str = SANDBOX_ORG_ID,
        scopes: tuple[str, ...] = SANDBOX_SCOPES,
        expires_in: Any = 86399,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"the emulator binds loopback only, not {host}")
        self.client_id = client_id
        self.client_secret = client_secret
        self.org_id = org_id
        self.scopes = tuple(scopes)
        self.expires_in = expires_in
        self.latency = latency
        self._address = (host, port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._tokens: dict[str, float | None] = {}  # token -> monotonic expiry, None = never
        self._requests: list[RecordedRequest] = []
        self._token_requests = 0
        self._aem_requests = 0
        self._connections = 0
        self._server: _Server | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> AdobeEmulator:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        self._server = _Server(self._address, self)
        self._server.start()
        return self

    def stop(self) -> None:
        """Wake delayed answers, cut open connections and wait for every handler thread."""
        if self._server is not None:
            self._stopping.set()
            self._server.stop()
            self._server = None

    def __enter__(self) -> AdobeEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- addresses and credentials ---------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.url

    @property
    def ims_token_url(self) -> str:
        return self.url + IMS_TOKEN_PATH

    @property
    def aem_base_url(self) -> str:
        return self.url

    def env(self) -> dict[str, str]:
        """The process environment that points the action's endpoints here."""
        return {"IMS_TOKEN_URL": self.ims_token_url, "AEM_API_BASE_URL": self.aem_base_url}

    def params(self) -> dict[str, str]:
        """The action inputs for the sandbox credentials."""
        return {
            "OAUTHS2S_CLIENT_ID": self.client_id,
            "OAUTHS2S_CLIENT_SECRET": self.client_secret,
            "OAUTHS2S_CECREDENTIALS_METASCOPES": ",".join(self.scopes),
            "IMS_ORG_ID": self.org_id,
        }

    # --- scripting and inspection ----------------------------------------------------------

    def queue(self, endpoint: str, *faults: Fault) -> None:
        """The next answers of ``endpoint`` ("ims" or "aem"), in order, instead of normal ones."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        with self._lock:
            self._faults[endpoint].extend(faults)

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid: AEM answers 401 to it."""
        with self._lock:
            self._tokens.clear()

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._token_requests

    @property
    def aem_requests(self) -> int:
        with self._lock:
            return self._aem_requests

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Clear counters, recorded requests and queued faults (issued tokens stay valid)."""
        with self._lock:
            self._requests.clear()
            self._token_requests = self._aem_requests = self._connections = 0
            for faults in self._faults.values():
                faults.clear()

    # --- called by the handler threads -----------------------------------------------------

    def _connection_opened(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _record(self, request: RecordedRequest) -> Fault | None:
        """Store the request, count it, and take the fault queued for its endpoint, if any."""
        with self._lock:
            self._requests.append(request)
            if request.endpoint == "ims" and request.method == "POST":
                self._token_requests += 1
            elif request.endpoint == "aem":
                self._aem_requests += 1
            queued = self._faults.get(request.endpoint)
            return queued.popleft() if queued else None

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake at once when the emulator stops; False when it is stopping."""
        if seconds > 0:
            self._stopping.wait(seconds)
        return not self._stopping.is_set()

    def _answer(self, request: RecordedRequest) -> _Reply:
        if request.endpoint == "ims":
            return self._ims(request)
        if request.endpoint == "aem":
            return self._aem(request)
        return _json_reply(404, {"error": "not_found", "error_description": "no such endpoint"})

    def _ims(self, request: RecordedRequest) -> _Reply:
        if request.method != "POST":
            return _oauth_error(405, "invalid_request", "the token endpoint accepts POST only")
        if any(name in request.query for name in _CREDENTIAL_FIELDS):
            return _oauth_error(400, "invalid_request",
                                "credentials must be sent in the request body, not the query")
        if media_type(request.headers.get("content-type", "")) != _FORM:
            return _oauth_error(400, "invalid_request",
                                f"Content-Type must be {_FORM}")
        try:
            form = parse_qs(request.body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return _oauth_error(400, "invalid_request", "the body is not UTF-8")
        values = {name: form.get(name, [""])[0] for name in _CREDENTIAL_FIELDS}
        if not values["grant_type"]:
            return _oauth_error(400, "invalid_request", "missing parameter: grant_type")
        if values["grant_type"] != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type",
                                "only client_credentials is supported")
        if not values["client_id"]:
            return _oauth_error(400, "invalid_request", "missing parameter: client_id")
        if values["client_id"] != self.client_id:
            return _oauth_error(400, "invalid_client", "invalid client_id parameter")
        if not secrets.compare_digest(values["client_secret"].encode(),
                                      self.client_secret.encode()):
            return _oauth_error(401, "invalid_client", "invalid client_secret parameter")
        requested = [scope.strip() for scope in values["scope"].split(",") if scope.strip()]
        refused = [scope for scope in requested if scope not in self.scopes]
        if refused:
            return _oauth_error(400, "invalid_scope", f"invalid scope: {','.join(refused)}")
        grant = {"access_token": self._issue_token(), "token_type": "bearer"}
        if self.expires_in is not ABSENT:
            grant["expires_in"] = self.expires_in
        return _json_reply(200, grant)

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        lifetime = self.expires_in
        expires_at = None
        if isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool) and lifetime > 0:
            expires_at = time.monotonic() + lifetime
        with self._lock:
            self._tokens[token] = expires_at
        return token

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            if token not in self._tokens:
                return False
            expires_at = self._tokens[token]
        return expires_at is None or time.monotonic() < expires_at

    def _aem(self, request: RecordedRequest) -> _Reply:
        """Checks in this order: 405, 400 (headers, query), 401, 404 (unknown org), 403."""
        if request.method != "GET":
            return _problem(405, "Method Not Allowed", "this endpoint accepts GET only")
        if request.headers.get("x-adobe-accept-experimental") != "1":
            return _problem(400, "Bad Request",
                            "experimental API: send the header X-Adobe-Accept-Experimental: 1")
        org = request.query.get("imsOrgId", [""])[0]
        if not org:
            return _problem(400, "Bad Request", "query parameter imsOrgId is required")
        current = request.query.get("current", ["false"])[0]
        if current not in ("true", "false"):
            return _problem(400, "Bad Request", "query parameter current must be true or false")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self._token_valid(token.strip()):
            return _problem(401, "Unauthorized", "a valid Bearer access token is required")
        if org != self.org_id:
            return _problem(404, "Not Found", "no content-requests quota for this organization")
        if request.headers.get("x-api-key") != self.client_id:
            return _problem(403, "Forbidden", "X-Api-Key does not match the token's client")
        if request.headers.get("x-gw-ims-org-id") != org:
            return _problem(403, "Forbidden", "x-gw-ims-org-id must equal imsOrgId")
        return _json_reply(200, self._quota(org, current == "true"))

    @staticmethod
    def _quota(org: str, current: bool) -> dict[str, Any]:
        """This month's quota, or last month's when ``current`` is false."""
        today = datetime.date.today()
        month = today if current else today.replace(day=1) - datetime.timedelta(days=1)
        return {
            "imsOrgId": org,
            "current": current,
            "contentRequestsQuota": {
                "period": month.strftime("%Y-%m"),
                "limit": _QUOTA_LIMIT,
                "used": _QUOTA_USED if current else _QUOTA_LIMIT // 2,
                "unit": "contentRequests",
            },
        }

    def _scripted(self, endpoint: str, fault: Fault, request: RecordedRequest) -> _Reply:
        """The fault's answer; a 200 fault without a body is the normal answer, merely delayed."""
        if fault.status == 200 and fault.body is None:
            normal = self._answer(request)
            return _Reply(normal.status, {**normal.headers, **fault.headers}, normal.body)
        if fault.body is None:
            reply = _error_reply(endpoint, fault.status)
        else:
            body, content_type = _encode(fault.body)
            reply = _Reply(fault.status, {"Content-Type": content_type}, body)
        return _Reply(reply.status, {**reply.headers, **fault.headers}, reply.body)


def _error_reply(endpoint: str, status: int) -> _Reply:
    """The endpoint's usual error shape for a scripted status (no body below 400)."""
    if status < 400:
        return _Reply(status, {}, b"")
    if endpoint == "aem":
        return _problem(status, "Error", f"scripted HTTP {status}")
    return _oauth_error(status, "internal_error" if status >= 500 else "invalid_request",
                        "Please try again later")


def _encode(body: bytes | str | dict | list) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


class _Server(LoopbackServer):
    def __init__(self, address: tuple[str, int], emulator: AdobeEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    # Without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to each keep-alive answer.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.emulator._connection_opened()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests and the local runner print what matters

    def _serve(self) -> None:
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        endpoint = {IMS_TOKEN_PATH: "ims", AEM_QUOTA_PATH: "aem"}.get(parts.path, "other")
        request = RecordedRequest(
            endpoint=endpoint,
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self._lower_headers(),
            body=body,
            connection_id=self.connection_id,
            received_at=time.monotonic(),
        )
        fault = emulator._record(request)
        running = emulator._wait(emulator.latency + (fault.delay if fault else 0.0))
        if not running or (fault is not None and fault.drop):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is None:
            reply = emulator._answer(request)
        else:
            reply = emulator._scripted(endpoint, fault, request)
        if endpoint == "ims" and not any(name.lower() == "x-debug-id" for name in reply.headers):
            reply.headers["x-debug-id"] = secrets.token_hex(8)
        self._send(reply, fault.trickle if fault else 0.0)

    def _lower_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _send(self, reply: _Reply, trickle: float = 0.0) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not trickle:
            self.wfile.write(reply.body)
            return
        for byte in reply.body:
            if not self.server.emulator._wait(trickle):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:  # the client gave up: that is the point
                return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve
