"""lib.http over real HTTP on loopback (the sandbox emulator): retries, deadlines, limits, reuse."""

from __future__ import annotations

import email.utils
import threading
import time

import pytest
from requests.structures import CaseInsensitiveDict

from lib import http
from lib.aem import QUOTA_PATH
from lib.deadline import Deadline
from lib.errors import UpstreamError, UpstreamTimeout
from tests.action_support import FAST_RETRIES, deadline_in, gaps, unused_port
from tools.sandbox import AdobeEmulator, Fault


def get(adobe: AdobeEmulator, deadline: Deadline | None = None, **kwargs: object) -> http.Answer:
    """A GET on the emulator's AEM endpoint, where its faults are scripted."""
    return http.request("GET", adobe.aem_base_url + QUOTA_PATH, service="AEM",
                        deadline=deadline or Deadline(), **kwargs)


# --- retries --------------------------------------------------------------------------------


def test_a_503_is_retried_after_its_retry_after(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(503, headers={"Retry-After": "1"}))
    answer = get(adobe, deadline=deadline_in(10))
    assert answer.status == 400  # the emulator's own answer to this bare request
    assert adobe.aem_requests == 2
    [gap] = gaps(adobe)
    assert gap >= 1.0


def test_a_429_is_retried_after_a_retry_after_date(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(429, headers={
        "Retry-After": email.utils.formatdate(time.time() + 2, usegmt=True)}))
    assert get(adobe).status == 400
    assert adobe.aem_requests == 2
    [gap] = gaps(adobe)
    assert gap >= 0.9  # the date has whole seconds: at least one of the two is waited


def test_bad_gateway_and_gateway_timeout_are_retried(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(502, headers={"Retry-After": "0"}),
                Fault(504, headers={"Retry-After": "0"}))
    assert get(adobe).status == 400
    assert adobe.aem_requests == 3


def test_retries_are_bounded_and_the_last_answer_returned(adobe: AdobeEmulator) -> None:
    unavailable = Fault(503, headers={"Retry-After": "0"})
    adobe.queue("aem", *[unavailable] * 5)
    assert get(adobe).status == 503
    assert adobe.aem_requests == 1 + http.DEFAULT_POLICY.retries


@pytest.mark.parametrize("status", [500, 501, 400, 404])
def test_other_statuses_are_not_retried(adobe: AdobeEmulator, status: int) -> None:
    adobe.queue("aem", Fault(status, headers={"Retry-After": "0"}))
    assert get(adobe).status == status
    assert adobe.aem_requests == 1


def test_a_policy_chooses_the_statuses_it_retries(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(500, headers={"Retry-After": "0"}))
    policy = http.RetryPolicy(statuses=http.RETRY_STATUSES | {500})
    assert get(adobe, policy=policy).status == 400
    assert adobe.aem_requests == 2


def test_a_request_that_cannot_be_sent_is_not_retried(adobe: AdobeEmulator) -> None:
    with pytest.raises(UpstreamError, match="could not send the request to AEM") as failure:
        get(adobe, headers={"X-Api-Key": "split\r\nX-Injected: 1"})
    assert failure.value.details == {"reason": "InvalidHeader"}
    assert adobe.aem_requests == 0


def test_a_long_retry_after_is_passed_on_not_waited(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(429, headers={"Retry-After": "3600"}))
    answer = get(adobe)
    assert answer.status == 429
    assert answer.headers["retry-after"] == "3600"
    assert adobe.aem_requests == 1


def test_a_dropped_connection_is_retried(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(drop=True), Fault(drop=True))
    assert get(adobe, policy=FAST_RETRIES).status == 400
    assert adobe.aem_requests == 3


def test_connection_refused_is_retried_until_the_server_is_up() -> None:
    port = unused_port()
    started: list[AdobeEmulator] = []
    starter = threading.Timer(0.3, lambda: started.append(AdobeEmulator(port=port).start()))
    starter.start()
    try:
        answer = http.request(
            "GET", f"http://127.0.0.1:{port}{QUOTA_PATH}", service="AEM", deadline=Deadline(),
            policy=http.RetryPolicy(retries=8, backoff=0.2, max_backoff=0.4))
        assert answer.status == 400
        assert started[0].aem_requests == 1
    finally:
        starter.join()
        for emulator in started:
            emulator.stop()


def test_connection_refused_for_good_is_502_naming_the_service() -> None:
    with pytest.raises(UpstreamError, match="could not connect to IMS") as caught:
        http.request("POST", f"http://127.0.0.1:{unused_port()}/ims/token/v3", service="IMS",
                     deadline=Deadline(), policy=FAST_RETRIES)
    assert caught.value.status == 502
    assert caught.value.details == {"reason": "ConnectionError"}


# --- the deadline ---------------------------------------------------------------------------


def test_no_retry_when_retry_after_would_pass_the_deadline(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(503, headers={"Retry-After": "3"}))
    assert get(adobe, deadline=deadline_in(2)).status == 503
    assert adobe.aem_requests == 1


def test_no_backoff_retry_past_the_deadline(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", *[Fault(drop=True)] * 4)
    with pytest.raises(UpstreamError, match="could not connect to AEM"):
        get(adobe, deadline=deadline_in(0.3))  # less than the first backoff leaves
    assert adobe.aem_requests == 1


def test_a_slow_answer_is_a_timeout_within_the_deadline(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(delay=10))
    with pytest.raises(UpstreamTimeout, match="AEM did not answer within") as caught:
        get(adobe, deadline=deadline_in(0.6))
    assert caught.value.status == 504
    assert adobe.aem_requests == 1  # a timeout is not retried: the time is gone


def test_no_time_left_means_no_request(adobe: AdobeEmulator) -> None:
    with pytest.raises(UpstreamTimeout, match="no time left in the activation to call AEM"):
        get(adobe, deadline=Deadline(time.time() - 1))
    assert adobe.aem_requests == 0


# --- what comes back ------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused(adobe: AdobeEmulator) -> None:
    adobe.queue("aem", Fault(body=b"x" * 5000), Fault(body=b"y" * 4096))
    with pytest.raises(UpstreamError, match="AEM answered more than 4096 bytes") as caught:
        get(adobe, max_body=4096)
    assert caught.value.status == 502
    assert get(adobe, max_body=4096).body == b"y" * 4096  # at the limit is fine


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(adobe: AdobeEmulator, status: int) -> None:
    adobe.queue("ims", Fault(status, headers={"Location": adobe.url + "/stolen"}))
    answer = http.request("POST", adobe.ims_token_url, service="IMS", deadline=Deadline(),
                          data={"client_secret": "must-stay-with-ims"})
    assert answer.status == status
    assert [r.path for r in adobe.requests] == ["/ims/token/v3"]


def test_one_keep_alive_connection_is_reused(adobe: AdobeEmulator) -> None:
    for _ in range(3):
        http.request("POST", adobe.ims_token_url, service="IMS", deadline=Deadline(),
                     data={"grant_type": "client_credentials"})
        get(adobe)
    assert adobe.connections == 1
    assert {r.connection_id for r in adobe.requests} == {adobe.requests[0].connection_id}
    assert http.session() is http.session()


def test_cookies_from_an_answer_are_not_sent_again(adobe: AdobeEmulator) -> None:
    """One invocation's cookies must not ride along with the next one's credentials."""
    adobe.queue("aem", Fault(400, headers={"Set-Cookie": "session=abc; Path=/"}))
    get(adobe)
    get(adobe)
    assert [r.headers.get("cookie") for r in adobe.requests] == [None, None]


def test_requests_name_the_client(adobe: AdobeEmulator) -> None:
    get(adobe, headers={"X-Api-Key": "client"})
    [sent] = adobe.requests
    assert sent.headers["user-agent"].startswith("ow-adobe-s2s python-requests/")
    assert sent.headers["x-api-key"] == "client"


def test_proxy_settings_from_the_environment_are_ignored(
    adobe: AdobeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{unused_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert get(adobe).status == 400
    assert adobe.aem_requests == 1


# --- small parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("5", 5.0), (" 7 ", 7.0), ("0", 0.0), ("", None), ("soon", None), ("-1", None),
     ("1.5", None), ("Mon, 01 Jan 2001 00:00:00 GMT", 0.0)],
)
def test_retry_after_seconds(value: str, seconds: float | None) -> None:
    assert http.retry_after_seconds(CaseInsensitiveDict({"retry-after": value})) == seconds


def test_retry_after_absent_or_as_a_future_date() -> None:
    assert http.retry_after_seconds(CaseInsensitiveDict()) is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= http.retry_after_seconds(CaseInsensitiveDict({"Retry-After": when})) <= 30


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = http.RetryPolicy(backoff=0.5, max_backoff=8.0)
    for attempt in range(7):
        cap = min(8.0, 0.5 * 2**attempt)
        delays = [policy.backoff_delay(attempt) for _ in range(200)]
        assert all(cap / 2 <= delay <= cap for delay in delays)
        assert len(set(delays)) > 1  # jittered, so clients spread out


def test_answer_json_or_default() -> None:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    assert http.Answer(200, headers, b'{"a": [1]}').json_or(None) == {"a": [1]}
    assert http.Answer(200, headers, b"<html>").json_or("dflt") == "dflt"
    assert http.Answer(200, headers, b"\xff\xfe\xfa").json_or("dflt") == "dflt"
    assert http.Answer(200, headers, b"").json_or("dflt") == "dflt"
    too_deep = b"[" * 100_000 + b"]" * 100_000  # valid JSON that Python cannot decode
    assert http.Answer(200, headers, too_deep).json_or("dflt") == "dflt"
