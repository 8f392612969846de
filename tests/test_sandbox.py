"""The sandbox emulator follows the documented IMS and AEM behaviour, over real loopback HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from lib.aem import QUOTA_PATH
from tools.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_ORG_ID,
    SANDBOX_SCOPES,
    AdobeEmulator,
    Fault,
)

FORM = {
    "grant_type": "client_credentials",
    "client_id": SANDBOX_CLIENT_ID,
    "client_secret": SANDBOX_CLIENT_SECRET,
    "scope": ",".join(SANDBOX_SCOPES),
}


@pytest.fixture
def emulator() -> Iterator[AdobeEmulator]:
    with AdobeEmulator() as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def token(emulator: AdobeEmulator, http: requests.Session, **changes: str) -> requests.Response:
    return http.post(emulator.ims_token_url, data={**FORM, **changes}, timeout=5)


def quota(emulator: AdobeEmulator, http: requests.Session, access_token: str | None = None,
          *, query: dict[str, str] | None = None, **header_changes: str | None
          ) -> requests.Response:
    if access_token is None:
        access_token = token(emulator, http).json()["access_token"]
    headers: dict[str, Any] = {
        "X-Adobe-Accept-Experimental": "1",
        "x-gw-ims-org-id": SANDBOX_ORG_ID,
        "X-Api-Key": SANDBOX_CLIENT_ID,
        "Authorization": f"Bearer {access_token}",
    }
    headers.update({name.replace("_", "-"): value for name, value in header_changes.items()})
    params = {"imsOrgId": SANDBOX_ORG_ID, "current": "true"} if query is None else query
    return http.get(emulator.aem_base_url + QUOTA_PATH, params=params, headers=headers,
                    timeout=5)


# --- IMS ---------------------------------------------------------------------------------------

def test_token_success_is_an_oauth_bearer_grant(emulator, http):
    answer = token(emulator, http)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert isinstance(body["access_token"], str)
    assert len(body["access_token"]) >= 20
    assert answer.headers["x-debug-id"]
    assert emulator.token_requests == 1


def test_each_token_is_new(emulator, http):
    assert token(emulator, http).json()["access_token"] != token(emulator, http).json()[
        "access_token"]


def test_expires_in_is_settable_to_any_json_value(emulator, http):
    emulator.expires_in = "soon"
    assert token(emulator, http).json()["expires_in"] == "soon"


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"client_id": "someone-else"}, 400, "invalid_client"),
        ({"client_secret": "wrong-secret"}, 401, "invalid_client"),
        ({"scope": "openid,write_everything"}, 400, "invalid_scope"),
    ],
)
def test_token_errors_are_oauth_shaped(emulator, http, changes, status, error):
    answer = token(emulator, http, **changes)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]
    assert answer.headers["x-debug-id"]


def test_a_subset_of_the_allowed_scopes_is_granted(emulator, http):
    assert token(emulator, http, scope="openid").status_code == 200


def test_credentials_in_the_query_string_are_refused(emulator, http):
    answer = http.post(emulator.ims_token_url, params=FORM, data={"grant_type": "x"}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_json_body_is_refused(emulator, http):
    answer = http.post(emulator.ims_token_url, json=FORM, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "x-www-form-urlencoded" in answer.json()["error_description"]


def test_get_on_the_token_endpoint_is_not_counted_as_a_token_request(emulator, http):
    assert http.get(emulator.ims_token_url, timeout=5).status_code == 405
    assert emulator.token_requests == 0


# --- AEM ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("current", ["true", "false"])
def test_quota_echoes_the_org_and_current(emulator, http, current):
    answer = quota(emulator, http, query={"imsOrgId": SANDBOX_ORG_ID, "current": current})
    assert answer.status_code == 200
    body = answer.json()
    assert body["imsOrgId"] == SANDBOX_ORG_ID
    assert body["current"] is (current == "true")
    assert body["contentRequestsQuota"]["limit"] > body["contentRequestsQuota"]["used"] > 0
    assert emulator.aem_requests == 1


def problem(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_quota_needs_the_experimental_header(emulator, http):
    body = problem(quota(emulator, http, X_Adobe_Accept_Experimental=None), 400)
    assert "X-Adobe-Accept-Experimental" in body["detail"]


def test_quota_needs_ims_org_id(emulator, http):
    body = problem(quota(emulator, http, query={"current": "true"}), 400)
    assert "imsOrgId" in body["detail"]


def test_quota_refuses_a_current_that_is_not_a_boolean(emulator, http):
    problem(quota(emulator, http, query={"imsOrgId": SANDBOX_ORG_ID, "current": "yes"}), 400)


@pytest.mark.parametrize("authorization", [None, "Bearer made-up-token", "Basic abc"])
def test_quota_needs_a_bearer_token_it_issued(emulator, http, authorization):
    token(emulator, http)
    answer = quota(emulator, http, "unused", Authorization=authorization)
    problem(answer, 401)


def test_expire_tokens_invalidates_every_issued_token(emulator, http):
    access_token = token(emulator, http).json()["access_token"]
    assert quota(emulator, http, access_token).status_code == 200
    emulator.expire_tokens()
    problem(quota(emulator, http, access_token), 401)
    assert quota(emulator, http).status_code == 200  # a new token works


def test_tokens_expire_after_expires_in_seconds(emulator, http):
    emulator.expires_in = 0.2
    access_token = token(emulator, http).json()["access_token"]
    assert quota(emulator, http, access_token).status_code == 200
    time.sleep(0.3)
    problem(quota(emulator, http, access_token), 401)


@pytest.mark.parametrize("expires_in", [0, -5, "86399", None])
def test_tokens_without_a_positive_lifetime_do_not_expire(emulator, http, expires_in):
    emulator.expires_in = expires_in
    access_token = token(emulator, http).json()["access_token"]
    assert quota(emulator, http, access_token).status_code == 200


def test_quota_api_key_must_be_the_client_id(emulator, http):
    problem(quota(emulator, http, X_Api_Key="another-client"), 403)


def test_quota_org_header_must_match_the_query(emulator, http):
    problem(quota(emulator, http, x_gw_ims_org_id="FFFF@AdobeOrg"), 403)


def test_quota_for_an_unknown_org_is_not_found(emulator, http):
    answer = quota(emulator, http, query={"imsOrgId": "FFFF@AdobeOrg", "current": "true"},
                   x_gw_ims_org_id="FFFF@AdobeOrg")
    problem(answer, 404)


def test_an_unknown_path_is_404(emulator, http):
    answer = http.get(emulator.url + "/elsewhere", timeout=5)
    assert answer.status_code == 404
    assert emulator.requests[0].endpoint == "other"


# --- scripted faults ---------------------------------------------------------------------------

def test_queued_faults_answer_in_order_then_normal_answers_resume(emulator, http):
    emulator.queue("ims", Fault(429, {"Retry-After": "7"}), Fault(503))
    first = token(emulator, http)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.headers["x-debug-id"]
    second = token(emulator, http)
    assert second.status_code == 503
    assert second.json()["error"] == "internal_error"
    assert token(emulator, http).status_code == 200
    assert emulator.token_requests == 3


def test_a_fault_can_carry_any_body(emulator, http):
    emulator.queue("aem", Fault(200, body={"anything": [1, 2]}),
                   Fault(500, body="<html>oops</html>"), Fault(502, body=b"\x00\x01"))
    access_token = token(emulator, http).json()["access_token"]
    assert quota(emulator, http, access_token).json() == {"anything": [1, 2]}
    answer = quota(emulator, http, access_token)
    assert (answer.status_code, answer.text) == (500, "<html>oops</html>")
    assert quota(emulator, http, access_token).content == b"\x00\x01"


def test_an_aem_error_fault_without_a_body_is_problem_json(emulator, http):
    emulator.queue("aem", Fault(503))
    problem(quota(emulator, http), 503)


def test_a_200_fault_without_a_body_is_the_normal_answer(emulator, http):
    emulator.queue("ims", Fault(delay=0.01, headers={"X-Extra": "yes"}))
    answer = token(emulator, http)
    assert answer.json()["token_type"] == "bearer"
    assert answer.headers["X-Extra"] == "yes"


def test_a_delayed_answer_outlasts_a_short_read_timeout(emulator, http):
    emulator.queue("ims", Fault(delay=1.0))
    with pytest.raises(requests.ReadTimeout):
        http.post(emulator.ims_token_url, data=FORM, timeout=(2, 0.2))


def test_latency_applies_to_every_answer(emulator, http):
    emulator.latency = 1.0
    with pytest.raises(requests.ReadTimeout):
        http.post(emulator.ims_token_url, data=FORM, timeout=(2, 0.2))
    emulator.latency = 0.0
    assert token(emulator, http).status_code == 200


def test_a_dropped_connection_is_a_connection_error(emulator, http):
    emulator.queue("aem", Fault(drop=True))
    with pytest.raises(requests.ConnectionError):
        quota(emulator, http, "whatever")
    assert emulator.aem_requests == 1


def test_queue_names_the_endpoints_it_knows(emulator):
    with pytest.raises(ValueError, match="ims, aem"):
        emulator.queue("imx", Fault())


# --- inspection and lifecycle ------------------------------------------------------------------

def test_requests_are_recorded_with_lower_case_headers(emulator, http):
    token(emulator, http)
    (recorded,) = emulator.requests
    assert recorded.endpoint == "ims"
    assert recorded.method == "POST"
    assert recorded.path == "/ims/token/v3"
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"grant_type=client_credentials" in recorded.body
    assert recorded.query == {}


def test_keep_alive_reuse_is_observable(emulator, http):
    token(emulator, http)
    token(emulator, http)
    with requests.Session() as other:
        other.trust_env = False
        token(emulator, other)
    ids = [recorded.connection_id for recorded in emulator.requests]
    assert ids[0] == ids[1] != ids[2]
    assert emulator.connections == 2


def test_reset_clears_counters_requests_and_faults_but_not_tokens(emulator, http):
    access_token = token(emulator, http).json()["access_token"]
    emulator.queue("ims", Fault(500))
    emulator.reset()
    assert (emulator.token_requests, emulator.aem_requests, emulator.requests) == (0, 0, [])
    assert emulator.connections == 0
    assert token(emulator, http).status_code == 200
    assert quota(emulator, http, access_token).status_code == 200


def test_env_and_params_point_at_the_emulator(emulator):
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.env() == {"IMS_TOKEN_URL": emulator.url + "/ims/token/v3",
                              "AEM_API_BASE_URL": emulator.url}
    assert emulator.params() == {
        "OAUTHS2S_CLIENT_ID": SANDBOX_CLIENT_ID,
        "OAUTHS2S_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID,read_organizations",
        "IMS_ORG_ID": SANDBOX_ORG_ID,
    }


def test_custom_credentials_are_the_ones_accepted(http):
    with AdobeEmulator(client_id="c", client_secret="s3cr3t-value", scopes=("a",)) as custom:
        assert token(custom, http, client_id="c", client_secret="s3cr3t-value",
                     scope="a").status_code == 200
        assert token(custom, http).status_code == 400


def test_stop_ends_every_thread_even_with_open_and_delayed_connections(http):
    before = set(threading.enumerate())
    emulator = AdobeEmulator().start()
    token(emulator, http)  # leaves a keep-alive connection open
    emulator.queue("ims", Fault(delay=30))
    outcome: list[BaseException] = []

    def ask_slowly() -> None:
        try:
            with requests.Session() as fresh:
                token(emulator, fresh)
        except requests.RequestException as exc:
            outcome.append(exc)

    slow = threading.Thread(target=ask_slowly)
    slow.start()
    while emulator.token_requests < 2:
        time.sleep(0.01)
    emulator.stop()
    slow.join(timeout=5)
    assert not slow.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)  # cut, not answered
    assert set(threading.enumerate()) == before


def test_url_is_unavailable_when_not_running():
    with pytest.raises(RuntimeError, match="not running"):
        _ = AdobeEmulator().url


def test_only_loopback_addresses_are_accepted():
    with pytest.raises(ValueError, match="loopback only"):
        AdobeEmulator(host="0.0.0.0")  # noqa: S104 - the refusal is the point
