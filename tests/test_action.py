"""The generic action end to end through ``actions.generic.main``.

`responses` for what is sent and how every answer maps to the web response;
the loopback emulator (the ``adobe`` fixture) for connections, time and
concurrency.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from actions.generic import main
from lib import http, ims
from tests.action_support import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    IMS_URL,
    ORG_ID,
    OTHER_TOKEN,
    QUOTA,
    QUOTA_URL,
    SCOPES,
    FakeClock,
    action_params,
    add_ims_error,
    add_quota,
    add_token,
    app_builder_params,
    calls_to,
    form,
    gaps,
    problem,
    set_deadline,
)
from tools.sandbox import AdobeEmulator, Fault


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The module-level token cache on a clock the test moves (the emulator keeps real time)."""
    fake = FakeClock()
    monkeypatch.setattr(ims.token_cache, "clock", fake)
    return fake


def error_of(result: dict[str, Any], status: int) -> dict[str, Any]:
    """The body of an App Builder error response with ``status``."""
    assert set(result) == {"error"}, result
    assert result["error"]["statusCode"] == status, result
    return result["error"]["body"]


def bearer_tokens(adobe: AdobeEmulator) -> list[str]:
    """The access token each AEM request carried."""
    return [r.headers["authorization"].removeprefix("Bearer ")
            for r in adobe.requests if r.endpoint == "aem"]


# --- success --------------------------------------------------------------------------------


def test_success_is_the_aem_json_in_a_web_response(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps)
    assert main(action_params()) == {"statusCode": 200,
                                     "headers": {"Content-Type": "application/json"},
                                     "body": QUOTA}
    token_call, quota_call = rsps.calls
    assert form(token_call.request.body) == {
        "grant_type": ["client_credentials"], "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET], "scope": [",".join(SCOPES)]}
    assert parse_qs(urlsplit(quota_call.request.url).query) == {"imsOrgId": [ORG_ID],
                                                                "current": ["true"]}
    assert quota_call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize(("current", "sent"), [("false", "false"), (False, "false"),
                                               ("TRUE", "true"), ("", "true")])
def test_the_current_parameter_is_passed_on(
    rsps: responses.RequestsMock, current: object, sent: str
) -> None:
    add_token(rsps)
    add_quota(rsps)
    assert main(action_params(current=current))["statusCode"] == 200
    assert parse_qs(urlsplit(calls_to(rsps, QUOTA_URL)[0].request.url).query)["current"] == [sent]


def test_app_builder_injected_credentials(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps)
    assert main(app_builder_params())["statusCode"] == 200
    token_call, quota_call = rsps.calls
    assert form(token_call.request.body)["client_secret"] == [CLIENT_SECRET]
    assert quota_call.request.headers["x-gw-ims-org-id"] == ORG_ID


def test_warm_invocations_reuse_the_token(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps)
    for _ in range(3):
        assert main(action_params())["statusCode"] == 200
    assert len(calls_to(rsps, IMS_URL)) == 1
    assert len(calls_to(rsps, QUOTA_URL)) == 3


def test_parameters_cannot_move_the_endpoints(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps)
    params = action_params(IMS_TOKEN_URL="https://evil.example/ims/token/v3",
                           AEM_API_BASE_URL="https://evil.example", ims_token_url="http://x",
                           aem_base_url="http://x", __ow_headers={"host": "evil.example"})
    assert main(params)["statusCode"] == 200  # `responses` would refuse any other URL
    assert [urlsplit(c.request.url).hostname for c in rsps.calls] == [
        "ims-na1.adobelogin.com", "api.adobeaemcloud.com"]


# --- bad input: 400 before anything is sent ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (action_params(IMS_ORG_ID="", OAUTHS2S_CLIENT_SECRET=""),
         "missing parameter(s) 'IMS_ORG_ID,OAUTHS2S_CLIENT_SECRET'"),
        ({}, "missing parameter(s) 'IMS_ORG_ID,OAUTHS2S_CLIENT_ID,OAUTHS2S_CLIENT_SECRET,"
             "OAUTHS2S_CECREDENTIALS_METASCOPES'"),
        (action_params(current="maybe"), "parameter 'current' must be true or false"),
        (action_params(OAUTHS2S_CLIENT_ID="two words"),
         "parameter 'OAUTHS2S_CLIENT_ID' must be a string of visible ASCII characters"),
        (action_params(LOG_LEVEL="loud"),
         "LOG_LEVEL must be one of error, warn, warning, info, verbose, debug, silly"),
        (["not", "an", "object"], "parameters must be a JSON object"),
    ],
)
def test_bad_input_is_400_naming_what_is_wrong(
    rsps: responses.RequestsMock, params: Any, message: str
) -> None:
    assert main(params) == {"error": {"statusCode": 400, "body": {"error": message}}}
    assert len(rsps.calls) == 0


def test_an_endpoint_not_allowed_is_500_naming_the_variable(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", "https://ims.evil.example/ims/token/v3")
    body = error_of(main(action_params()), 500)
    assert body["error"].startswith("IMS_TOKEN_URL must point at a host ending in")
    assert len(rsps.calls) == 0


# --- IMS answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(401, "invalid_client"), (400, "invalid_scope")])
def test_rejected_credentials_are_502_with_ims_error_and_debug_id(
    rsps: responses.RequestsMock, status: int, error: str
) -> None:
    add_ims_error(rsps, status, error, "nope", debug_id="dbg-123")
    assert error_of(main(action_params()), 502) == {
        "error": f"IMS rejected the credentials: {error}", "ims_error": error,
        "ims_error_description": "nope", "x_debug_id": "dbg-123"}
    assert len(calls_to(rsps, QUOTA_URL)) == 0


def test_ims_server_error_is_502(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 500, "internal_error", "Please try again later")
    body = error_of(main(action_params()), 502)
    assert body["error"] == "IMS answered HTTP 500"
    assert body["ims_error"] == "internal_error"


def test_ims_unreadable_answer_is_502(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, body="<html>", headers={"x-debug-id": "dbg-html"})
    assert error_of(main(action_params()), 502) == {
        "error": "IMS answered 200 without an access token", "x_debug_id": "dbg-html"}


def test_ims_timeout_is_504(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, body=requests.ReadTimeout("slow"))
    assert error_of(main(action_params()), 504)["error"].startswith("IMS did not answer")


def test_ims_throttling_is_429_with_retry_after(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 429, "too_many_requests", headers={"Retry-After": "45"})
    result = main(action_params())
    assert error_of(result, 429)["error"] == "IMS is throttling token requests"
    assert result["error"]["headers"] == {"Retry-After": "45"}


# --- AEM answers ----------------------------------------------------------------------------


def test_aem_401_refreshes_the_token_once(rsps: responses.RequestsMock) -> None:
    add_token(rsps, token=ACCESS_TOKEN)
    add_token(rsps, token=OTHER_TOKEN)
    add_quota(rsps, status=401, body=problem(401, "Unauthorized", "expired"))
    add_quota(rsps)
    assert main(action_params())["statusCode"] == 200
    assert [c.request.headers["Authorization"] for c in calls_to(rsps, QUOTA_URL)] == [
        f"Bearer {ACCESS_TOKEN}", f"Bearer {OTHER_TOKEN}"]


def test_aem_401_twice_is_502(rsps: responses.RequestsMock) -> None:
    add_token(rsps, token=ACCESS_TOKEN)
    add_token(rsps, token=OTHER_TOKEN)
    add_quota(rsps, status=401, body=problem(401, "Unauthorized", "no"))
    assert error_of(main(action_params()), 502) == {
        "error": "AEM rejected the access token",
        "upstream": {"status": 401, "title": "Unauthorized", "detail": "no"}}
    assert len(calls_to(rsps, IMS_URL)) == 2
    assert len(calls_to(rsps, QUOTA_URL)) == 2


@pytest.mark.parametrize(
    ("status", "answered", "message"),
    [(403, 502, "AEM refused access for these credentials"),
     (404, 404, "AEM found no content-requests quota for this org"),
     (400, 502, "AEM answered HTTP 400"),
     (500, 502, "AEM answered HTTP 500")],
)
def test_aem_errors(
    rsps: responses.RequestsMock, status: int, answered: int, message: str
) -> None:
    add_token(rsps)
    add_quota(rsps, status=status, body=problem(status, "Title", "Detail"))
    assert error_of(main(action_params()), answered) == {
        "error": message, "upstream": {"status": status, "title": "Title", "detail": "Detail"}}


def test_aem_unavailable_after_retries_is_502(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps, status=503, body=problem(503, "Unavailable", ""), headers={"Retry-After": "0"})
    assert error_of(main(action_params()), 502)["error"] == "AEM answered HTTP 503"
    assert len(calls_to(rsps, QUOTA_URL)) == 4


def test_aem_throttling_is_429_with_retry_after(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps, status=429, body=problem(429, "Too Many Requests", "later"),
              headers={"Retry-After": "120"})
    assert main(action_params()) == {"error": {
        "statusCode": 429,
        "headers": {"Retry-After": "120"},
        "body": {"error": "AEM is throttling requests",
                 "upstream": {"status": 429, "title": "Too Many Requests", "detail": "later"}},
    }}


def test_aem_unreadable_answer_is_502(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    add_quota(rsps, body="<html>not json</html>")
    assert error_of(main(action_params()), 502) == {
        "error": "AEM answered 200 with a body that is not JSON"}


def test_aem_timeout_is_504(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    rsps.add(responses.GET, QUOTA_URL, body=requests.ReadTimeout("slow"))
    assert error_of(main(action_params()), 504)["error"].startswith("AEM did not answer")


# --- never raises ---------------------------------------------------------------------------


def test_an_unexpected_exception_is_logged_and_answered_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug deep down")

    monkeypatch.setattr(http, "session", broken)
    assert main(action_params()) == {"error": {"statusCode": 500, "body": {
        "error": "internal error; the activation log has the details"}}}
    [record] = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "a bug deep down" in caplog.text


def test_failures_are_logged_as_warnings_with_their_status(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    add_ims_error(rsps, 401, "invalid_client", debug_id="dbg-log")
    main(action_params())
    [record] = [r for r in caplog.records if r.getMessage().startswith("request failed")]
    assert record.levelno == logging.WARNING
    assert record.fields["status"] == 502
    assert record.fields["x_debug_id"] == "dbg-log"


# --- over real HTTP on loopback --------------------------------------------------------------


@pytest.mark.parametrize("source", ["inputs", "__ims_oauth_s2s"])
def test_emulator_end_to_end(adobe: AdobeEmulator, source: str) -> None:
    inputs = adobe.params()
    params = inputs if source == "inputs" else {"__ims_oauth_s2s": {
        "client_id": inputs["OAUTHS2S_CLIENT_ID"], "org_id": inputs["IMS_ORG_ID"],
        "client_secret": inputs["OAUTHS2S_CLIENT_SECRET"], "scopes": list(adobe.scopes)}}
    result = main({**params, "current": "false"})
    assert result["statusCode"] == 200
    assert result["body"]["imsOrgId"] == adobe.org_id
    assert result["body"]["current"] is False


def test_one_connection_serves_many_invocations(adobe: AdobeEmulator) -> None:
    for _ in range(10):
        assert main(adobe.params())["statusCode"] == 200
    assert adobe.connections == 1
    assert adobe.token_requests == 1
    assert adobe.aem_requests == 10


@pytest.mark.parametrize(("endpoint", "service"), [("ims", "IMS"), ("aem", "AEM")])
def test_a_slow_upstream_is_answered_504_within_the_deadline(
    adobe: AdobeEmulator, monkeypatch: pytest.MonkeyPatch, endpoint: str, service: str
) -> None:
    adobe.queue(endpoint, Fault(delay=30))
    set_deadline(monkeypatch, 1.5)
    deadline = time.monotonic() + 1.5
    body = error_of(main(adobe.params()), 504)
    assert time.monotonic() < deadline  # answered before OpenWhisk would kill the action
    assert body["error"].startswith(f"{service} did not answer within")
    assert adobe.aem_requests == (1 if endpoint == "aem" else 0)


def test_retries_honour_retry_after(adobe: AdobeEmulator) -> None:
    adobe.queue("ims", Fault(429, headers={"Retry-After": "1"}))
    adobe.queue("aem", Fault(503, headers={"Retry-After": "1"}))
    assert main(adobe.params())["statusCode"] == 200
    assert (adobe.token_requests, adobe.aem_requests) == (2, 2)
    assert all(gap >= 1.0 for gap in gaps(adobe, "ims") + gaps(adobe, "aem"))


def test_concurrent_invocations_share_one_token_request(adobe: AdobeEmulator) -> None:
    adobe.queue("ims", Fault(delay=0.3))  # a slow first token: the others arrive meanwhile
    barrier = threading.Barrier(16)
    statuses: list[int] = []
    lock = threading.Lock()

    def invoke() -> None:
        barrier.wait()
        result = main(adobe.params())
        with lock:
            statuses.append(result.get("statusCode") or result["error"]["statusCode"])

    threads = [threading.Thread(target=invoke) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert statuses == [200] * 16
    assert adobe.token_requests == 1
    assert adobe.aem_requests == 16
    assert len(set(bearer_tokens(adobe))) == 1


def test_an_expired_token_is_refreshed_on_401(adobe: AdobeEmulator) -> None:
    assert main(adobe.params())["statusCode"] == 200
    adobe.expire_tokens()
    assert main(adobe.params())["statusCode"] == 200
    assert adobe.token_requests == 2
    first, rejected, retried = bearer_tokens(adobe)
    assert first == rejected != retried
    assert main(adobe.params())["statusCode"] == 200  # the new token is cached
    assert adobe.token_requests == 2


def test_a_cached_token_is_used_while_ims_fails(adobe: AdobeEmulator, clock: FakeClock) -> None:
    assert main(adobe.params())["statusCode"] == 200
    clock.advance(86399 - 60)  # inside the refresh margin, not yet expired
    adobe.queue("ims", Fault(500))
    assert main(adobe.params())["statusCode"] == 200
    assert adobe.token_requests == 2  # IMS was asked, failed, and the cached token served
    first, second = bearer_tokens(adobe)
    assert first == second
    clock.advance(60)  # now expired: nothing left to fall back on
    adobe.queue("ims", Fault(500))
    assert error_of(main(adobe.params()), 502)["error"] == "IMS answered HTTP 500"


def test_a_rejection_is_not_asked_again_within_a_minute(
    adobe: AdobeEmulator, clock: FakeClock
) -> None:
    wrong = {**adobe.params(), "OAUTHS2S_CLIENT_SECRET": "p8e-wrong-secret-000000"}
    first = error_of(main(wrong), 502)
    assert first["ims_error"] == "invalid_client"
    clock.advance(50)
    assert error_of(main(wrong), 502) == first  # remembered, IMS not asked
    assert adobe.token_requests == 1
    assert main(adobe.params())["statusCode"] == 200  # other credentials are not blocked
    assert adobe.token_requests == 2
    clock.advance(15)
    assert error_of(main(wrong), 502)["ims_error"] == "invalid_client"
    assert adobe.token_requests == 3  # a minute on, IMS is asked again
