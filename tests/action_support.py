"""Helpers shared by the action and library tests: sample inputs, canned Adobe answers, clocks."""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from lib.aem import QUOTA_PATH
from lib.deadline import RESERVE_SECONDS, Deadline
from lib.endpoints import DEFAULT_AEM_BASE_URL, DEFAULT_IMS_TOKEN_URL
from lib.http import RetryPolicy
from tools.sandbox import AdobeEmulator

# The production endpoints; `responses` answers for them, so nothing leaves the machine.
IMS_URL = DEFAULT_IMS_TOKEN_URL
QUOTA_URL = DEFAULT_AEM_BASE_URL + QUOTA_PATH

CLIENT_ID = "test-client-id-0123"
CLIENT_SECRET = "p8e-Test-Client-Secret-0123456789abcdef"
SCOPES = ("openid", "AdobeID", "read_organizations")
ORG_ID = "ABCDEF0123456789ABCDEF01@AdobeOrg"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.test-access-token.signature-0001"
OTHER_TOKEN = "eyJhbGciOiJSUzI1NiJ9.test-access-token.signature-0002"
QUOTA = {"imsOrgId": ORG_ID, "contentRequestsQuota": {"limit": 5000000, "used": 1234}}

# Quick retries for tests about something else than the backoff itself.
FAST_RETRIES = RetryPolicy(retries=3, backoff=0.02, max_backoff=0.1)


def action_params(**overrides: Any) -> dict[str, Any]:
    """The tutorial's inputs, as a deployment defines them."""
    params: dict[str, Any] = {
        "OAUTHS2S_CLIENT_ID": CLIENT_ID,
        "OAUTHS2S_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTHS2S_CECREDENTIALS_METASCOPES": ",".join(SCOPES),
        "IMS_ORG_ID": ORG_ID,
    }
    params.update(overrides)
    return params


def app_builder_params(**overrides: Any) -> dict[str, Any]:
    """The same credentials as App Builder's ``include-ims-credentials`` injects them."""
    params: dict[str, Any] = {
        "__ims_oauth_s2s": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                            "org_id": ORG_ID, "scopes": list(SCOPES)},
    }
    params.update(overrides)
    return params


def add_token(
    rsps: responses.RequestsMock,
    token: str = ACCESS_TOKEN,
    expires_in: Any = 86399,
    debug_id: str = "debug-0001",
) -> None:
    rsps.add(responses.POST, IMS_URL, headers={"x-debug-id": debug_id},
             json={"access_token": token, "token_type": "bearer", "expires_in": expires_in})


def add_ims_error(
    rsps: responses.RequestsMock,
    status: int,
    error: str,
    description: str = "",
    debug_id: str = "debug-err-1",
    headers: dict[str, str] | None = None,
) -> None:
    rsps.add(responses.POST, IMS_URL, status=status,
             headers={"x-debug-id": debug_id, **(headers or {})},
             json={"error": error, "error_description": description})


def add_quota(
    rsps: responses.RequestsMock,
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    document = QUOTA if body is None and status == 200 else body
    if isinstance(document, (bytes, str)):
        rsps.add(responses.GET, QUOTA_URL, status=status, body=document, headers=headers)
    else:
        rsps.add(responses.GET, QUOTA_URL, status=status, json=document, headers=headers,
                 content_type="application/problem+json" if status >= 400 else "application/json")


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def form(body: str | bytes | None) -> dict[str, list[str]]:
    text = body.decode() if isinstance(body, bytes) else body or ""
    return parse_qs(text, keep_blank_values=True, strict_parsing=True)


def calls_to(rsps: responses.RequestsMock, url_start: str) -> list[Any]:
    return [call for call in rsps.calls if call.request.url.startswith(url_start)]


def deadline_in(seconds: float) -> Deadline:
    """A deadline that leaves ``seconds`` for upstream work (the reserve on top)."""
    return Deadline(time.time() + RESERVE_SECONDS + seconds)


def set_deadline(monkeypatch: pytest.MonkeyPatch, seconds_from_now: float) -> None:
    """``__OW_DEADLINE`` as OpenWhisk sets it: epoch milliseconds, as a string."""
    monkeypatch.setenv("__OW_DEADLINE", str(int((time.time() + seconds_from_now) * 1000)))


def unused_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def gaps(adobe: AdobeEmulator, endpoint: str = "aem") -> list[float]:
    """Seconds between consecutive requests to ``endpoint``, as the server saw them."""
    times = [r.received_at for r in adobe.requests if r.endpoint == endpoint]
    return [later - earlier for earlier, later in itertools.pairwise(times)]
