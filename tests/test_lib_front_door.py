"""lib's front door: what an action author imports, and a new API client on it in a few lines."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest
import responses

import lib
from lib import (
    Deadline,
    TokenRejected,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    request,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
THING_URL = "https://thing.adobe.test/v1/thing"


def test_every_public_name_resolves_and_internals_stay_out() -> None:
    for name in lib.__all__:
        assert getattr(lib, name) is not None, name
    assert not [name for name in lib.__all__ if name.startswith("_")]
    assert {"web_action", "identity_from_params", "with_token", "request", "Deadline",
            "AdobeEndpoints", "success_response", "BadRequest"} <= set(lib.__all__)


@pytest.mark.parametrize("module", ["lib", "tools.sandbox"])
def test_importing_loads_no_tool_and_no_yaml_or_dotenv(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in ('yaml', 'dotenv') or m.startswith(('tools.local', "
         "'tools.manifest', 'tools.deploy'))))"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def thing(token: str) -> Any:
    """A third API client on the front door: the request, then the one status ladder."""
    answer = request("GET", THING_URL, service="Thing", deadline=Deadline(),
                     headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status("Thing", errors={
        401: (TokenRejected, "Thing rejected the access token"),
        404: (UpstreamNotFound, "Thing has no such thing"),
    }, details={"upstream": {"status": answer.status}})
    return answer.json_or(None)


@responses.activate
def test_a_new_client_passes_success_through() -> None:
    responses.get(THING_URL, json={"ok": True})
    assert thing("t") == {"ok": True}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"


@pytest.mark.parametrize(("status", "kind", "answered", "message"), [
    (401, TokenRejected, 502, "Thing rejected the access token"),
    (404, UpstreamNotFound, 404, "Thing has no such thing"),
    (400, UpstreamError, 502, "Thing answered HTTP 400"),
    (500, UpstreamError, 502, "Thing answered HTTP 500"),
])
@responses.activate
def test_a_new_client_maps_its_statuses(status: int, kind: type[Exception], answered: int,
                                        message: str) -> None:
    responses.get(THING_URL, status=status, json={"error": "no"})
    with pytest.raises(kind) as caught:
        thing("t")
    assert type(caught.value) is kind
    assert caught.value.status == answered
    assert caught.value.message == message
    assert caught.value.details == {"upstream": {"status": status}}


@responses.activate
def test_throttling_is_passed_on_with_its_retry_after() -> None:
    responses.get(THING_URL, status=429, headers={"Retry-After": "42"})
    with pytest.raises(UpstreamRateLimited) as caught:
        thing("t")
    assert caught.value.message == "Thing is throttling requests"
    assert caught.value.to_response()["error"]["headers"] == {"Retry-After": "42"}
