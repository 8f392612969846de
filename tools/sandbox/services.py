"""How the emulated Adobe IMS and AEM answer: the documented services' rules, on loopback.

The IMS v3 token endpoint (form-encoded ``client_credentials``, ``invalid_client``
for wrong credentials, ``expires_in`` in seconds) and AEM's contentRequestsQuota
(``Bearer``, ``X-Api-Key``, ``x-gw-ims-org-id``, ``X-Adobe-Accept-Experimental``),
plus the scripted faults that replace a normal answer.
"""

from __future__ import annotations

import datetime
import enum
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

from lib.aem import QUOTA_PATH
from lib.endpoints import IMS_TOKEN_PATH
from tools.loopback import media_type

SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-0123456789"  # noqa: S105 - a public test value
SANDBOX_ORG_ID = "0123456789ABCDEF01234567@AdobeOrg"
SANDBOX_SCOPES: tuple[str, ...] = ("openid", "AdobeID", "read_organizations")

ENDPOINTS = ("ims", "aem")
_FORM = "application/x-www-form-urlencoded"
_PROBLEM = "application/problem+json"
_CREDENTIAL_FIELDS = ("grant_type", "client_id", "client_secret", "scope")
# A plausible monthly quota; AEM's real schema is not public, so the action passes it through.
_QUOTA_LIMIT = 5_000_000
_QUOTA_USED = 1_234_567
# Which emulated service a request path belongs to.
ENDPOINT_PATHS = {IMS_TOKEN_PATH: "ims", QUOTA_PATH: "aem"}


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
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def json_reply(status: int, document: Any, content_type: str = "application/json") -> Reply:
    return Reply(status, {"Content-Type": content_type}, json.dumps(document).encode())


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(status, {"error": error, "error_description": description})


def _problem(status: int, title: str, detail: str) -> Reply:
    document = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json_reply(status, document, _PROBLEM)



class AdobeServices:
    """The services' state (credentials, issued tokens) and their answers, without HTTP."""

    def __init__(
        self,
        *,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        org_id: str = SANDBOX_ORG_ID,
        scopes: tuple[str, ...] = SANDBOX_SCOPES,
        expires_in: Any = 86399,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.org_id = org_id
        self.scopes = tuple(scopes)
        self.expires_in = expires_in
        self._lock = threading.Lock()
        self._tokens: dict[str, float | None] = {}  # token -> monotonic expiry, None = never

    def params(self) -> dict[str, str]:
        """The action inputs for the sandbox credentials."""
        return {
            "OAUTHS2S_CLIENT_ID": self.client_id,
            "OAUTHS2S_CLIENT_SECRET": self.client_secret,
            "OAUTHS2S_CECREDENTIALS_METASCOPES": ",".join(self.scopes),
            "IMS_ORG_ID": self.org_id,
        }

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid: AEM answers 401 to it."""
        with self._lock:
            self._tokens.clear()

    def answer(self, request: RecordedRequest) -> Reply:
        if request.endpoint == "ims":
            return self._ims(request)
        if request.endpoint == "aem":
            return self._aem(request)
        return json_reply(404, {"error": "not_found", "error_description": "no such endpoint"})

    def _ims(self, request: RecordedRequest) -> Reply:
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
        return json_reply(200, grant)

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

    def _aem(self, request: RecordedRequest) -> Reply:
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
        return json_reply(200, self._quota(org, current == "true"))

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

    def scripted(self, endpoint: str, fault: Fault, request: RecordedRequest) -> Reply:
        """The fault's answer; a 200 fault without a body is the normal answer, merely delayed."""
        if fault.status == 200 and fault.body is None:
            normal = self.answer(request)
            return Reply(normal.status, {**normal.headers, **fault.headers}, normal.body)
        if fault.body is None:
            reply = _error_reply(endpoint, fault.status)
        else:
            body, content_type = _encode(fault.body)
            reply = Reply(fault.status, {"Content-Type": content_type}, body)
        return Reply(reply.status, {**reply.headers, **fault.headers}, reply.body)


def _error_reply(endpoint: str, status: int) -> Reply:
    """The endpoint's usual error shape for a scripted status (no body below 400)."""
    if status < 400:
        return Reply(status, {}, b"")
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

