"""lib.aem against `responses`: the exact quota request and the mapping of every answer."""

from __future__ import annotations

import email.utils
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from lib import aem
from lib.deadline import Deadline
from lib.endpoints import DEFAULT_AEM_BASE_URL
from lib.errors import (
    ActionError,
    TokenRejected,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from lib.redact import HIDDEN, known_secrets
from tests.action_support import (
    ACCESS_TOKEN,
    CLIENT_ID,
    ORG_ID,
    QUOTA,
    QUOTA_URL,
    add_quota,
    deadline_in,
    problem,
)


def quota(
    current: bool = True, base_url: str = DEFAULT_AEM_BASE_URL, deadline: Deadline | None = None
) -> Any:
    return aem.content_requests_quota(base_url, org_id=ORG_ID, client_id=CLIENT_ID,
                                      access_token=ACCESS_TOKEN, current=current,
                                      deadline=deadline or Deadline())


def raised(call: Any) -> Any:
    """The ActionError ``call`` raises."""
    with pytest.raises(ActionError) as caught:
        call()
    return caught.value


# --- the request ----------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "sent"), [(True, "true"), (False, "false")])
def test_the_quota_request(rsps: responses.RequestsMock, current: bool, sent: str) -> None:
    add_quota(rsps)
    quota(current=current)
    [call] = rsps.calls
    request = call.request
    parts = urlsplit(request.url)
    assert request.method == "GET"
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == QUOTA_URL
    assert parse_qs(parts.query) == {"imsOrgId": [ORG_ID], "current": [sent]}
    assert request.headers["X-Adobe-Accept-Experimental"] == "1"
    assert request.headers["x-gw-ims-org-id"] == ORG_ID
    assert request.headers["X-Api-Key"] == CLIENT_ID
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.body is None


def test_a_base_url_with_a_trailing_slash(rsps: responses.RequestsMock) -> None:
    add_quota(rsps)
    quota(base_url=DEFAULT_AEM_BASE_URL + "/")
    assert urlsplit(rsps.calls[0].request.url).path == aem.QUOTA_PATH


# --- success --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [QUOTA, [{"period": "2025-01"}], {"unknown": {"schema": 1}}])
def test_the_json_body_is_passed_through(rsps: responses.RequestsMock, body: Any) -> None:
    add_quota(rsps, body=body)
    assert quota() == body


@pytest.mark.parametrize("body", ["<html>gateway page</html>", "[" * 100_000 + "]" * 100_000],
                         ids=["html", "json nested too deep"])
def test_200_that_is_not_json_is_502(rsps: responses.RequestsMock, body: str) -> None:
    add_quota(rsps, body=body)
    error = raised(quota)
    assert type(error) is UpstreamError
    assert error.status == 502
    assert error.message == "AEM answered 200 with a body that is not JSON"


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "http_status", "message"),
    [
        (401, TokenRejected, 502, "AEM rejected the access token"),
        (403, UpstreamError, 502, "AEM refused access for these credentials"),
        (404, UpstreamNotFound, 404, "AEM found no content-requests quota for this org"),
        (400, UpstreamError, 502, "AEM answered HTTP 400"),
        (500, UpstreamError, 502, "AEM answered HTTP 500"),
        (501, UpstreamError, 502, "AEM answered HTTP 501"),
    ],
)
def test_error_statuses_carry_the_upstream_problem(
    rsps: responses.RequestsMock, status: int, kind: type, http_status: int, message: str
) -> None:
    add_quota(rsps, status=status, body=problem(status, "Some Title", "some detail"))
    error = raised(quota)
    assert type(error) is kind
    assert error.status == http_status
    assert error.message == message
    assert error.details == {"upstream": {"status": status, "title": "Some Title",
                                          "detail": "some detail"}}
    assert error.to_response()["error"]["body"]["upstream"]["status"] == status
    assert len(rsps.calls) == 1  # none of these is retried


def test_an_error_without_problem_json_still_names_the_status(
    rsps: responses.RequestsMock,
) -> None:
    add_quota(rsps, status=403, body="Forbidden")
    assert raised(quota).details == {"upstream": {"status": 403}}


def test_problem_fields_that_are_not_text_are_dropped_and_long_ones_cut(
    rsps: responses.RequestsMock,
) -> None:
    add_quota(rsps, status=500, body={"title": {"nested": 1}, "detail": "d" * 2000})
    assert raised(quota).details == {"upstream": {"status": 500, "detail": "d" * 500}}


def test_a_token_echoed_in_the_problem_is_masked(rsps: responses.RequestsMock) -> None:
    known_secrets.add(ACCESS_TOKEN)  # as lib.ims does when the token is minted
    add_quota(rsps, status=401, body=problem(401, f"Bad {ACCESS_TOKEN}",
                                             f"token {ACCESS_TOKEN} expired"))
    upstream = raised(quota).details["upstream"]
    assert upstream == {"status": 401, "title": f"Bad {HIDDEN}",
                        "detail": f"token {HIDDEN} expired"}


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_failures_are_retried_then_502(rsps: responses.RequestsMock, status: int) -> None:
    add_quota(rsps, status=status, body=problem(status, "Unavailable", "later"),
              headers={"Retry-After": "0"})
    error = raised(quota)
    assert (type(error), error.status) == (UpstreamError, 502)
    assert error.message == f"AEM answered HTTP {status}"
    assert len(rsps.calls) == 4


def test_a_retried_failure_can_recover(rsps: responses.RequestsMock) -> None:
    add_quota(rsps, status=503, body=problem(503, "Unavailable", "later"),
              headers={"Retry-After": "0"})
    add_quota(rsps)
    assert quota() == QUOTA
    assert len(rsps.calls) == 2


def test_throttling_is_429_with_its_retry_after(rsps: responses.RequestsMock) -> None:
    add_quota(rsps, status=429, body=problem(429, "Too Many Requests", "slow down"),
              headers={"Retry-After": "120"})
    error = raised(quota)
    assert type(error) is UpstreamRateLimited
    assert (error.status, error.retry_after) == (429, 120)
    assert error.to_response() == {"error": {
        "statusCode": 429,
        "headers": {"Retry-After": "120"},
        "body": {"error": "AEM is throttling requests",
                 "upstream": {"status": 429, "title": "Too Many Requests",
                              "detail": "slow down"}},
    }}
    assert len(rsps.calls) == 1  # 120 s is more than we wait: passed on to the caller


def test_a_retry_after_date_is_passed_on_in_seconds(rsps: responses.RequestsMock) -> None:
    when = email.utils.formatdate(time.time() + 90, usegmt=True)
    add_quota(rsps, status=429, body=problem(429, "Too Many Requests", ""),
              headers={"Retry-After": when})
    error = raised(quota)
    assert 85 <= error.retry_after <= 91


def test_throttling_without_retry_after_has_no_header(rsps: responses.RequestsMock) -> None:
    add_quota(rsps, status=429, body=problem(429, "Too Many Requests", ""))
    error = raised(lambda: quota(deadline=deadline_in(0.3)))  # no time for a backoff retry
    assert type(error) is UpstreamRateLimited
    assert error.retry_after is None
    assert "headers" not in error.to_response()["error"]


def test_a_read_timeout_is_504(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, QUOTA_URL, body=requests.ReadTimeout("read timed out"))
    error = raised(quota)
    assert (type(error), error.status) == (UpstreamTimeout, 504)
