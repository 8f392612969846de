"""The warm path of lib.http: the lean preparation equals requests' own, the adapter's two
trimmed hooks keep what requests does for these requests, mocks of ``HTTPAdapter.send`` still
see every request, and the body watchdog does not wake once per call."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from typing import Any

import pytest
import requests
import responses
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from lib import _transport, http
from lib._watchdog import SLACK, Watchdog
from lib.deadline import Deadline
from tests.deploy_support import loopback_server

# --- the lean PreparedRequest --------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
HOSTS = st.sampled_from(["api.adobeaemcloud.com", "127.0.0.1:8080", "ims-na1.adobelogin.com",
                         "user:pa%20ss@host.example", "bücher.example", "[::1]:9000"])
PATHS = st.lists(st.sampled_from(["a", "b c", "%41", "ü", "x;y", "q=1", "~t", ""]),
                 max_size=4).map("/".join)
URLS = st.builds(lambda scheme, host, path, query, fragment: (
    f"{scheme}://{host}/{path}" + (f"?{query}" if query is not None else "")
    + (f"#{fragment}" if fragment is not None else "")),
    st.sampled_from(["http", "https", "HTTPS"]), HOSTS, PATHS,
    st.none() | st.sampled_from(["", "a=1", "x=%20y&z"]), st.none() | st.sampled_from(["", "f"]))
PARAMS = (st.none() | st.dictionaries(TEXT, TEXT, max_size=3)
          | st.dictionaries(TEXT, st.lists(TEXT | st.none(), max_size=2), max_size=2)
          | st.lists(st.tuples(TEXT, TEXT), max_size=3) | TEXT)
HEADERS = st.none() | st.dictionaries(st.sampled_from(["Accept", "X-Api-Key", "user-agent",
                                                       "Authorization", "x-gw-ims-org-id"]),
                                      st.text("abcXYZ 09-_.@", max_size=10), max_size=3)
BODIES = st.fixed_dictionaries({}, optional={
    "data": st.dictionaries(TEXT, TEXT, max_size=3) | TEXT,
    "json": st.none() | st.dictionaries(TEXT, st.integers() | TEXT, max_size=3),
    "auth": st.tuples(TEXT, TEXT) | st.none(),
    "cookies": st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text("xyz", max_size=3),
                               max_size=2),
})


def by_requests(method: str, url: str, kwargs: dict[str, Any]) -> requests.PreparedRequest:
    """What lib.http sent before: requests.Request(...).prepare() with the default headers."""
    fields = {**kwargs, "headers": {**_transport.DEFAULT_HEADERS, **(kwargs.get("headers") or {})}}
    return requests.Request(method, url, **fields).prepare()


def same_or_same_error(method: str, url: str, kwargs: dict[str, Any]) -> None:
    try:
        expected = by_requests(method, url, kwargs)
    except Exception as exc:  # whatever requests raises, lib.http raises too
        with pytest.raises(type(exc)):
            _transport.prepare(method, url, kwargs)
        return
    got = _transport.prepare(method, url, kwargs)
    assert (got.method, got.url, got.body) == (expected.method, expected.url, expected.body)
    assert list(got.headers.items()) == list(expected.headers.items())


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["GET", "post", "PUT", "DELETE"]), URLS, PARAMS, HEADERS, BODIES)
def test_the_lean_preparation_is_requests_own(method: str, url: str, params: Any,
                                              headers: Any, body: dict[str, Any]) -> None:
    kwargs = {"params": params, "headers": headers, **body}
    same_or_same_error(method, url, kwargs)
    same_or_same_error(method, url, kwargs)  # again, from the cache


@pytest.mark.parametrize(("url", "kwargs"), [
    ("https://api.adobeaemcloud.com/x", {"params": {"imsOrgId": "O@AdobeOrg", "current": "t"}}),
    ("https://host/p?a=1#frag", {"params": {"b": ["1", "2"], "c": None}}),
    ("https://host/p", {"params": b"raw=1&two"}),
    ("https://u:p@host/p", {}),
    ("https://host/p", {"json": {"a": 1}, "auth": ("user", "key")}),
    ("https://host/p", {"data": {"grant_type": "client_credentials", "scope": "a,b"}}),
    ("https://host/p", {"files": {"f": ("f.txt", b"x")}}),  # not lean: requests' own way
    ("https://host/p", {"hooks": {"response": []}}),
    ("host/no-scheme", {}),
    ("https://*.bad/label", {}),
    ("mailto:someone@example.com", {"params": {"a": "1"}}),
    ("https://host/p", {"headers": {"X-Bad": "new\nline"}}),
])
def test_the_lean_preparation_on_chosen_cases(url: str, kwargs: dict[str, Any]) -> None:
    if "files" in kwargs:  # multipart boundaries are random: compare what does not vary
        got, expected = _transport.prepare("POST", url, kwargs), by_requests("POST", url, kwargs)
        assert (got.url, got.headers.keys()) == (expected.url, expected.headers.keys())
        return
    same_or_same_error("POST", url, kwargs)


def test_a_bad_url_or_header_is_not_sent_and_not_retried() -> None:
    for url, headers in (("nowhere", {}), ("https://host/", {"X": "a\r\nInjected: 1"})):
        with pytest.raises(http.UpstreamError, match="could not send the request to S"):
            http.request("GET", url, service="S", deadline=Deadline(), headers=headers)


# --- mocks of HTTPAdapter.send see the lean requests ---------------------------------------


@responses.activate
def test_mocks_of_the_adapters_send_see_params_form_json_and_auth() -> None:
    responses.get("https://api.example/q", json={"ok": 1},
                  match=[responses.matchers.query_param_matcher({"a": "1", "b": "x y"})])
    responses.post("https://api.example/form", body="done",
                   match=[responses.matchers.urlencoded_params_matcher({"k": "v"})])
    responses.put("https://api.example/json", status=201,
                  match=[responses.matchers.json_params_matcher({"n": [1, 2]})])
    deadline = Deadline()

    assert http.request("GET", "https://api.example/q", service="S", deadline=deadline,
                        params={"a": "1", "b": "x y"}).json_or(None) == {"ok": 1}
    assert http.request("POST", "https://api.example/form", service="S", deadline=deadline,
                        data={"k": "v"}).body == b"done"
    answer = http.request("PUT", "https://api.example/json", service="S", deadline=deadline,
                          json={"n": [1, 2]}, auth=("uuid", "key"))

    assert answer.status == 201
    sent = responses.calls[2].request
    assert sent.headers["Authorization"] == requests.auth._basic_auth_str("uuid", "key")
    assert sent.headers["Content-Type"] == "application/json"
    assert all(c.request.headers["User-Agent"] == _transport.DEFAULT_HEADERS["User-Agent"]
               for c in responses.calls)


# --- the adapter's hooks --------------------------------------------------------------------


def test_the_pool_is_looked_up_once_per_origin_and_again_once_closed() -> None:
    adapter = _transport.Adapter(pool_connections=4, pool_maxsize=4, max_retries=0)
    first = requests.Request("GET", "https://host.example:8443/a?x=1").prepare()
    second = requests.Request("GET", "https://host.example:8443/b/c").prepare()
    other = requests.Request("GET", "http://host.example:8443/a").prepare()

    pool = adapter.get_connection_with_tls_context(first, True)
    assert adapter.get_connection_with_tls_context(second, True) is pool
    assert adapter.get_connection_with_tls_context(other, True) is not pool
    assert (pool.scheme, pool.host, pool.port) == ("https", "host.example", 8443)
    assert pool is adapter.poolmanager.connection_from_host(
        "host.example", 8443, "https", pool_kwargs={"cert_reqs": "CERT_REQUIRED"})
    adapter.poolmanager.clear()  # the manager evicts it and, in urllib3 1.x, closes it
    pool.close()
    again = adapter.get_connection_with_tls_context(first, True)
    assert again is not pool
    assert again.pool is not None
    adapter.close()  # the manager forgets every pool: so does the adapter
    assert adapter.get_connection_with_tls_context(first, True) is not again
    proxied = adapter.get_connection_with_tls_context(first, True,
                                                      proxies={"https": "http://proxy:3128"})
    assert proxied is not again  # a proxy is never taken from the cache


def test_no_more_pools_are_remembered_than_the_manager_keeps() -> None:
    adapter = _transport.Adapter(pool_connections=2, pool_maxsize=2, max_retries=0)
    for port in range(8000, 8010):
        url = f"http://127.0.0.1:{port}/"
        adapter.get_connection_with_tls_context(requests.Request("GET", url).prepare(), True)
        assert len(adapter._pools) <= 2


def test_answers_are_read_through_the_trimmed_response() -> None:
    body = gzip.compress(json.dumps({"quota": 1}).encode())
    headers = {"Content-Encoding": "gzip", "Set-Cookie": "session=abc; Path=/",
               "Content-Type": "application/json; charset=utf-8", "X-Debug-Id": "d1"}
    with loopback_server(200, headers, body) as server:
        answer = http.request("GET", server.url + "/q", service="S", deadline=Deadline(),
                              params={"a": "1"})
        http.request("GET", server.url + "/again", service="S", deadline=Deadline())

    assert answer.status == 200
    assert answer.json_or(None) == {"quota": 1}  # gzip decoded
    assert isinstance(answer.headers, CaseInsensitiveDict)
    assert answer.headers["x-debug-id"] == "d1"
    assert [path for _, path, _ in server.requests] == ["/q?a=1", "/again"]
    assert "cookie" not in server.requests[1][2]  # the answer's cookie went nowhere

    request = requests.Request("GET", "http://h/p").prepare()
    raw = urllib3.HTTPResponse(body=b"", headers={"Content-Type": "text/plain"},
                                         status=204, reason="No Content",
                                         preload_content=False)
    built = _transport.Adapter().build_response(request, raw)
    assert (built.status_code, built.reason, built.url, built.encoding) == (
        204, "No Content", "http://h/p", "ISO-8859-1")
    assert (built.raw, built.request, list(built.cookies)) == (raw, request, [])


# --- the watchdog --------------------------------------------------------------------------


def test_calls_sharing_a_deadline_do_not_wake_the_watchdog() -> None:
    dog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        deadline = time.monotonic() + 60
        for _ in range(200):  # what one activation's calls do: the same deadline each time
            assert dog.disarm(dog.arm(ours, deadline - time.monotonic())) is False
        time.sleep(0.05)
        assert dog.wakeups <= 2  # it started, and at most one arm raced its first sleep
        assert dog._thread is not None
        assert dog._thread.is_alive()


def test_a_deadline_a_little_earlier_than_the_alarm_is_kept_within_the_slack() -> None:
    dog = Watchdog()
    far_ours, far_peer = socket.socketpair()
    near_ours, near_peer = socket.socketpair()
    with far_ours, far_peer, near_ours, near_peer:
        far = dog.arm(far_ours, 0.3)
        time.sleep(0.05)  # the thread now sleeps until the far deadline
        near = dog.arm(near_ours, 0.3 - 0.05 - SLACK / 2)  # earlier, by less than the slack
        near_ours.settimeout(5)
        start = time.monotonic()
        assert near_ours.recv(1) == b""  # shut at the alarm: late by less than the slack
        assert time.monotonic() - start < 0.3
        assert dog.disarm(near) is True
        assert dog.disarm(far) is True


def test_the_watchdog_still_cuts_off_each_of_many_threads_at_its_own_deadline() -> None:
    dog = Watchdog()
    pairs = [socket.socketpair() for _ in range(4)]
    results: dict[int, float] = {}

    def read(index: int, sock: socket.socket, seconds: float) -> None:
        ticket = dog.arm(sock, seconds)
        sock.settimeout(5)
        start = time.monotonic()
        assert sock.recv(1) == b""
        results[index] = time.monotonic() - start
        assert dog.disarm(ticket) is True

    threads = [threading.Thread(target=read, args=(i, ours, 0.1 + 0.1 * i))
               for i, (ours, _) in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for ours, peer in pairs:
        ours.close()
        peer.close()
    assert sorted(results) == [0, 1, 2, 3]
    for index, seconds in results.items():
        assert 0.1 + 0.1 * index - 0.05 <= seconds < 0.1 + 0.1 * index + 0.5
