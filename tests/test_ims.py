"""lib.ims against `responses`: the exact token request, every answer's mapping, the cache."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
import requests
import responses

from lib import ims
from lib.deadline import Deadline
from lib.errors import (
    CredentialsRejected,
    TokenRejected,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from lib.redact import HIDDEN, known_secrets
from tests.action_support import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    IMS_URL,
    OTHER_TOKEN,
    SCOPES,
    add_ims_error,
    add_token,
    deadline_in,
    form,
)

CREDENTIALS = ims.S2SCredentials(CLIENT_ID, CLIENT_SECRET, SCOPES)


def fetch(credentials: ims.S2SCredentials = CREDENTIALS, deadline: Deadline | None = None):
    return ims.request_token(IMS_URL, credentials, deadline or Deadline())


# --- the request ----------------------------------------------------------------------------


def test_the_token_request_is_a_urlencoded_form_in_the_body(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    fetch()
    [call] = rsps.calls
    request = call.request
    assert request.method == "POST"
    assert urlsplit(request.url).query == ""  # nothing in the query string
    assert request.url == IMS_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    assert request.body == (
        f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
        "&scope=openid%2CAdobeID%2Cread_organizations"
    )


def test_form_values_are_encoded_not_interpolated(rsps: responses.RequestsMock) -> None:
    secret = "p8e-a&b=c+d %/?#é;x"
    add_token(rsps)
    fetch(ims.S2SCredentials("id&grant_type=password", secret, ("openid", "a b")))
    body = rsps.calls[0].request.body
    assert "&b=" not in body
    assert form(body) == {
        "grant_type": ["client_credentials"],
        "client_id": ["id&grant_type=password"],
        "client_secret": [secret],
        "scope": ["openid,a b"],
    }


# --- success --------------------------------------------------------------------------------


def test_success_gives_the_token_and_its_lifetime(rsps: responses.RequestsMock) -> None:
    add_token(rsps, expires_in=86399)
    grant = fetch()
    assert grant.value == ACCESS_TOKEN
    assert grant.lifetime == 86399
    assert ACCESS_TOKEN not in repr(grant)
    assert known_secrets.mask(f"Bearer {ACCESS_TOKEN}") == f"Bearer {HIDDEN}"


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(86399, 86399.0), ("3600", 3600.0), (12.5, 12.5), (0, 0.0), (-5, -5.0), (None, None),
     ("soon", None), (True, None), ([3600], None), ({"s": 1}, None)],
)
def test_expires_in_variants(
    rsps: responses.RequestsMock, expires_in: object, lifetime: float | None
) -> None:
    add_token(rsps, expires_in=expires_in)
    assert fetch().lifetime == lifetime


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_expires_in_counts_as_unknown(rsps: responses.RequestsMock, raw: str) -> None:
    rsps.add(responses.POST, IMS_URL, body=f'{{"access_token": "{ACCESS_TOKEN}", '
                                           f'"expires_in": {raw}}}')
    assert fetch().lifetime is None


def test_missing_expires_in_counts_as_unknown(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, json={"access_token": ACCESS_TOKEN})
    assert fetch().lifetime is None


def test_a_minted_token_is_logged_without_its_value(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_token(rsps, expires_in=3600, debug_id="dbg-42")
    fetch()
    [record] = [r for r in caplog.records if r.getMessage() == "IMS token minted"]
    assert record.fields == {"expires_in": 3600.0, "x_debug_id": "dbg-42"}
    assert ACCESS_TOKEN not in caplog.text


# --- a 200 that is not a token --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["<html>maintenance</html>", '{"token_type": "bearer"}', '{"access_token": ""}',
     '{"access_token": 12345678}', '["access_token"]', "null"],
)
def test_200_without_a_usable_token_is_an_upstream_error(
    rsps: responses.RequestsMock, body: str
) -> None:
    rsps.add(responses.POST, IMS_URL, body=body, headers={"x-debug-id": "dbg-200"})
    with pytest.raises(UpstreamError, match="IMS answered 200 without an access token") as caught:
        fetch()
    assert caught.value.status == 502
    assert caught.value.details == {"x_debug_id": "dbg-200"}


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, "invalid_scope"), (400, "unsupported_grant_type"), (401, "invalid_client"),
     (403, "forbidden")],
)
def test_rejected_credentials_name_the_ims_error_and_debug_id(
    rsps: responses.RequestsMock, status: int, error: str
) -> None:
    add_ims_error(rsps, status, error, "what went wrong", debug_id="dbg-7")
    with pytest.raises(CredentialsRejected) as caught:
        fetch()
    assert caught.value.status == 502
    assert caught.value.message == f"IMS rejected the credentials: {error}"
    assert caught.value.details == {"ims_error": error,
                                    "ims_error_description": "what went wrong",
                                    "x_debug_id": "dbg-7"}
    assert caught.value.to_response() == {"error": {"statusCode": 502, "body": {
        "error": f"IMS rejected the credentials: {error}", "ims_error": error,
        "ims_error_description": "what went wrong", "x_debug_id": "dbg-7"}}}
    assert len(rsps.calls) == 1  # never retried


def test_a_rejection_without_an_oauth_body_names_the_status(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, status=401, body="Unauthorized")
    with pytest.raises(CredentialsRejected, match="IMS rejected the credentials: HTTP 401") as c:
        fetch()
    assert c.value.details == {}


def test_a_secret_echoed_in_the_error_description_is_masked(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 401, "invalid_client", f"bad client_secret {CLIENT_SECRET}")
    with pytest.raises(CredentialsRejected) as caught:
        fetch()
    assert caught.value.details["ims_error_description"] == f"bad client_secret {HIDDEN}"


def test_a_long_error_description_is_cut(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 400, "invalid_request", "x" * 5000)
    with pytest.raises(CredentialsRejected) as caught:
        fetch()
    assert len(caught.value.details["ims_error_description"]) == 500


def test_server_error_is_502_with_its_details_and_not_retried(
    rsps: responses.RequestsMock,
) -> None:
    add_ims_error(rsps, 500, "internal_error", "Please try again later", debug_id="dbg-5")
    with pytest.raises(UpstreamError) as caught:
        fetch()
    assert type(caught.value) is UpstreamError
    assert caught.value.status == 502
    assert caught.value.message == "IMS answered HTTP 500"
    assert caught.value.details["ims_error"] == "internal_error"
    assert caught.value.details["x_debug_id"] == "dbg-5"
    assert len(rsps.calls) == 1


def test_unavailable_is_retried_then_502(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 503, "service_unavailable", headers={"Retry-After": "0"})
    with pytest.raises(UpstreamError, match="IMS answered HTTP 503"):
        fetch()
    assert len(rsps.calls) == 4  # the first try and three retries


def test_a_retried_bad_gateway_can_recover(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, status=502, body="bad gateway",
             headers={"Retry-After": "0"})
    add_token(rsps)
    assert fetch().value == ACCESS_TOKEN
    assert len(rsps.calls) == 2


def test_throttling_is_429_with_retry_after(rsps: responses.RequestsMock) -> None:
    add_ims_error(rsps, 429, "too_many_requests", headers={"Retry-After": "60"})
    with pytest.raises(UpstreamRateLimited) as caught:
        fetch()
    assert caught.value.status == 429
    assert caught.value.retry_after == 60
    response = caught.value.to_response()
    assert response["error"]["statusCode"] == 429
    assert response["error"]["headers"] == {"Retry-After": "60"}
    assert response["error"]["body"]["ims_error"] == "too_many_requests"
    assert len(rsps.calls) == 1  # longer than we would wait: passed on, not slept on


def test_a_read_timeout_is_504(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(UpstreamTimeout) as caught:
        fetch()
    assert caught.value.status == 504


def test_unreachable_ims_is_502_naming_the_service(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, IMS_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamError, match="could not connect to IMS") as caught:
        fetch(deadline=deadline_in(0.3))  # too little time left for a retry
    assert caught.value.status == 502
    assert caught.value.details == {"reason": "ConnectionError"}


# --- the cache around it --------------------------------------------------------------------


def test_get_token_caches_across_calls(rsps: responses.RequestsMock) -> None:
    add_token(rsps)
    first = ims.get_token(IMS_URL, CREDENTIALS, Deadline())
    second = ims.get_token(IMS_URL, CREDENTIALS, Deadline())
    assert (first.value, first.from_cache) == (ACCESS_TOKEN, False)
    assert (second.value, second.from_cache) == (ACCESS_TOKEN, True)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("new_token_accepted", [True, False])
def test_with_token_retries_once_with_a_new_token_after_401(
    rsps: responses.RequestsMock, new_token_accepted: bool
) -> None:
    add_token(rsps, token=ACCESS_TOKEN)
    add_token(rsps, token=OTHER_TOKEN)
    seen: list[str] = []

    def call(token: str) -> str:
        seen.append(token)
        if token == ACCESS_TOKEN or not new_token_accepted:
            raise TokenRejected("AEM rejected the access token")
        return "quota"

    if new_token_accepted:
        assert ims.with_token(IMS_URL, CREDENTIALS, Deadline(), call) == "quota"
        assert ims.get_token(IMS_URL, CREDENTIALS, Deadline()).value == OTHER_TOKEN  # cached
    else:
        with pytest.raises(TokenRejected):
            ims.with_token(IMS_URL, CREDENTIALS, Deadline(), call)
    assert seen == [ACCESS_TOKEN, OTHER_TOKEN]  # one retry, never a third token
    assert len(rsps.calls) == 2


def test_with_token_keeps_the_token_on_other_failures(rsps: responses.RequestsMock) -> None:
    add_token(rsps)

    def call(token: str) -> str:
        raise UpstreamError("AEM answered HTTP 500")

    with pytest.raises(UpstreamError):
        ims.with_token(IMS_URL, CREDENTIALS, Deadline(), call)
    assert ims.get_token(IMS_URL, CREDENTIALS, Deadline()).from_cache


# --- credentials ----------------------------------------------------------------------------


def test_credentials_never_show_the_secret() -> None:
    key = CREDENTIALS.cache_key(IMS_URL)
    assert CLIENT_SECRET not in repr(CREDENTIALS)
    assert CLIENT_SECRET not in repr(key)
    assert known_secrets.mask(CLIENT_SECRET) == HIDDEN


def test_the_cache_key_tells_credentials_apart() -> None:
    key = CREDENTIALS.cache_key(IMS_URL)
    assert ims.S2SCredentials(CLIENT_ID, CLIENT_SECRET, tuple(reversed(SCOPES))).cache_key(
        IMS_URL) == key
    assert CREDENTIALS.cache_key(IMS_URL + "/stage") != key
    assert ims.S2SCredentials("other-id", CLIENT_SECRET, SCOPES).cache_key(IMS_URL) != key
    assert ims.S2SCredentials(CLIENT_ID, CLIENT_SECRET + "x", SCOPES).cache_key(IMS_URL) != key
    assert ims.S2SCredentials(CLIENT_ID, CLIENT_SECRET, ("openid",)).cache_key(IMS_URL) != key
