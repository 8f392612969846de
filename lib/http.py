"""HTTP for actions: one keep-alive session, a timeout on every call, bounded retries.

The session lives at module level, so a warm container reuses its connections
across invocations. Retries follow Adobe's own Node stack (network errors, 429
and 502/503/504, exponential backoff, ``Retry-After`` honoured) and never run
past the activation's deadline. Bodies are read with a size limit, because
OpenWhisk drops an action result over 1 MB.

A warm call costs little beyond its round trip: each request is prepared with
only the steps it needs (``_prepare``) and handed to the session's adapter,
whose pool lookup and response building skip what these requests never use
(``_Adapter``). Everything below stays requests' and urllib3's own.
"""

from __future__ import annotations

import email.utils
import functools
import json
import random
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

from lib._watchdog import watchdog
from lib.deadline import Deadline
from lib.errors import ActionError, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from lib.web import MAX_PAYLOAD_BYTES

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_HEADERS = {
    "User-Agent": f"ow-adobe-s2s python-requests/{requests.__version__}",
    "Accept-Encoding": "gzip, deflate",
}
MIN_ATTEMPT_SECONDS = 0.2  # an attempt with less time than this left is not started
# Failures of the connection itself, worth another attempt.
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class RetryPolicy(NamedTuple):
    retries: int = 3
    statuses: frozenset[int] = RETRY_STATUSES
    backoff: float = 0.5  # the first delay; it doubles on each retry
    max_backoff: float = 8.0
    max_retry_after: float = 10.0  # a longer Retry-After is passed on, not waited for

    def backoff_delay(self, attempt: int) -> float:
        """Exponential with equal jitter: half fixed, half random, so clients spread out."""
        cap = min(self.max_backoff, self.backoff * 2**attempt)
        return cap / 2 + random.uniform(0, cap / 2)  # noqa: S311 - jitter, not security


DEFAULT_POLICY = RetryPolicy()


class Transport(NamedTuple):
    """How a request reaches its server. An action's goes direct and trusts the CA bundle
    requests ships, whatever the environment says; a developer's tool may pass the
    environment's proxies and CA bundle (tools/deploy does)."""

    verify: bool | str = True  # or the path of a CA bundle
    proxies: Mapping[str, str] = MappingProxyType({})


DIRECT = Transport()


# What an API's statuses mean: status -> (the error to raise, its message).
StatusErrors = Mapping[int, "tuple[type[ActionError], str]"]


class Answer(NamedTuple):
    """A response read in full: status, headers (case-insensitive) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json_or(self, default: Any) -> Any:
        """The body as JSON, or ``default`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # RecursionError: valid JSON nested too deep
            return default

    def raise_for_status(self, service: str, *, errors: StatusErrors | None = None,
                         details: Mapping[str, Any] | None = None) -> None:
        """Raise the action error for an answer that is not 2xx; one ladder for every API.

        ``errors`` gives the statuses this API assigns a meaning (401: the token,
        404: nothing there …). Otherwise 429 is throttling, passed on with its
        ``Retry-After``, and anything else is a 502 naming the service's status.
        """
        if 200 <= self.status < 300:
            return
        kind, message = (errors or {}).get(self.status) or (
            (UpstreamRateLimited, f"{service} is throttling requests") if self.status == 429
            else (UpstreamError, f"{service} answered HTTP {self.status}"))
        if issubclass(kind, UpstreamRateLimited):
            raise kind(message, retry_after=retry_after_seconds(self.headers),
                       details=dict(details or {}))
        raise kind(message, details=dict(details or {}))


_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The process-wide session, whose adapter keeps connections alive across invocations.

    Requests go through its adapter alone (see ``_send``), so no proxy, ``.netrc``
    or cookie from the environment or an earlier answer is ever applied.
    """
    global _session
    with _session_lock:
        if _session is None:
            new = requests.Session()
            new.trust_env = False
            adapter = _Adapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            new.mount("https://", adapter)
            new.mount("http://", adapter)
            _session = new
        return _session


class _Adapter(HTTPAdapter):
    """requests' adapter, less two steps of each send that these requests never need.

    Both are hooks requests documents for subclasses. ``send`` itself stays
    requests' own, so what mocks it (the ``responses`` library in the tests) still
    sees every request, and requests' urllib3 pool still owns TLS and keep-alive.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, Any, Any], Any] = {}
        self.poolmanager.pool_classes_by_scheme = _POOLS  # connections armed at the deadline

    def get_connection_with_tls_context(self, request: PreparedRequest, verify: Any,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: Any = None) -> Any:
        """The pool manager's pool for the request's origin, remembered rather than looked up
        on every call (each lookup parses the URL and builds urllib3's pool key of some
        30 fields). At most as many as the manager keeps; one closed since is looked up
        again."""
        if proxies or not isinstance(request.url, str):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = ("/".join(request.url.split("/", 3)[:3]), verify, cert)  # scheme://host:port
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # urllib3 sets .pool to None when it closes
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self._pool_connections:
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        self._pools.clear()
        super().close()

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """requests' own Response, less the copy of the answer's cookies into a jar: the
        session never sends cookies (see ``_send``), so nothing would read it."""
        response = Response()
        response.status_code = getattr(resp, "status", None)
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url
        response.request = req
        response.connection = self
        return response


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (delta seconds or an HTTP date)."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def request(
    method: str,
    url: str,
    *,
    service: str,
    deadline: Deadline,
    policy: RetryPolicy = DEFAULT_POLICY,
    max_body: int = MAX_PAYLOAD_BYTES,
    transport: Transport = DIRECT,
    connect_timeout: float = CONNECT_TIMEOUT,
    **kwargs: Any,
) -> Answer:
    """Send with retries and return the last answer, whatever its status.

    ``connect_timeout`` bounds connecting and sending the request (urllib3 applies
    it to both): a tool uploading a large body passes a longer one. Raises
    :class:`UpstreamTimeout` when the service is too slow for the time left,
    :class:`UpstreamError` when it cannot be reached or its body is over
    ``max_body``. Redirects are not followed: credentials stay with the host
    they were meant for.
    """
    attempt = 0
    while True:
        timeouts = _timeouts(deadline, service, connect_timeout)
        answer: Answer | None = None
        try:
            answer = _send(method, url, service, deadline, timeouts, max_body, transport,
                           kwargs)
        except requests.RequestException as exc:
            if _is_read_timeout(exc):
                raise UpstreamTimeout(
                    f"{service} did not answer within {timeouts[1]:.1f} s") from exc
            if not isinstance(exc, _TRANSPORT_ERRORS):  # a bad request: sending it again won't help
                raise UpstreamError(f"could not send the request to {service}",
                                    details={"reason": type(exc).__name__}) from exc
            failure: Exception = exc
            delay = policy.backoff_delay(attempt)
        else:
            if answer.status not in policy.statuses:
                return answer
            retry_after = retry_after_seconds(answer.headers)
            if retry_after is not None and retry_after > policy.max_retry_after:
                return answer
            delay = retry_after if retry_after is not None else policy.backoff_delay(attempt)

        if attempt < policy.retries and _time_allows(deadline, delay):
            time.sleep(delay)
            attempt += 1
            continue
        if answer is not None:
            return answer
        if isinstance(failure, requests.ConnectTimeout) and deadline.remaining() is not None:
            raise UpstreamTimeout(f"could not connect to {service} in time") from failure
        raise UpstreamError(
            f"could not connect to {service}", details={"reason": type(failure).__name__}
        ) from failure


def _send(
    method: str,
    url: str,
    service: str,
    deadline: Deadline,
    timeouts: tuple[float, float],
    max_body: int,
    transport: Transport,
    kwargs: dict[str, Any],
) -> Answer:
    # Straight to the session's transport adapter: Session.request would merge
    # cookies, hooks and environment settings (none used here) at a cost per call
    # above a loopback round trip, and keep cookies from one invocation for the next.
    # An adapter never follows redirects.
    prepared = _prepare(method, url, kwargs)
    remaining = deadline.remaining()
    _sending.until = None if remaining is None else time.monotonic() + remaining
    _sending.ticket = None  # set by the connection once the request is sent (_ArmedConnection)
    try:
        with session().get_adapter(url).send(prepared, stream=True, timeout=timeouts,
                                             verify=transport.verify,
                                             proxies=dict(transport.proxies)) as response:
            if _sending.ticket is None and _sending.until is not None:  # a proxied request
                sock = getattr(response.raw.connection, "sock", None)
                if sock is not None:
                    _sending.ticket = watchdog.arm(sock, _sending.until - time.monotonic())
            try:
                body = _read_body(response, max_body, service)
            except requests.RequestException as exc:
                if _sending.ticket is not None and watchdog.disarm(_sending.ticket):
                    raise UpstreamTimeout(f"{service} did not finish its answer in time") \
                        from exc
                raise
            if _sending.ticket is not None and watchdog.disarm(_sending.ticket):
                # Cut at the deadline while reading what read as a whole answer: not one.
                raise UpstreamTimeout(f"{service} did not finish its answer in time")
            return Answer(response.status_code, response.headers, body)
    except requests.RequestException as exc:
        if _sending.ticket is not None and watchdog.disarm(_sending.ticket):
            raise UpstreamTimeout(f"{service} did not answer within {timeouts[1]:.1f} s") \
                from exc
        raise
    finally:
        if _sending.ticket is not None:
            watchdog.disarm(_sending.ticket)
        _sending.until = _sending.ticket = None


class _ArmedConnection:
    """Hands its socket to the watchdog as soon as a request is sent on it, so a server that
    trickles its status line and headers is cut off at the deadline, as one that trickles
    its body is. Mixed into urllib3's own connection classes (``_POOLS``)."""

    sock: Any

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc] - urllib3's, next in the MRO
        until = getattr(_sending, "until", None)
        if until is not None and self.sock is not None:
            _sending.ticket = watchdog.arm(self.sock, until - time.monotonic())


class _ArmedHTTPConnection(_ArmedConnection, HTTPConnection):
    pass


class _ArmedHTTPSConnection(_ArmedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _ArmedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _ArmedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}
# The deadline of the request this thread is sending, and the watchdog's ticket for it.
_sending = threading.local()


def _prepare(method: str, url: str, kwargs: Mapping[str, Any]) -> PreparedRequest:
    """What ``requests.Request(method, url, **kwargs).prepare()`` makes, with less work per call.

    The same PreparedRequest steps in the same order, less three that do nothing
    for these requests: the URL is parsed, IDNA-checked and requoted once per URL
    and query (cached), cookies are prepared only when given, and the URL is
    searched for credentials only when it could hold some (an ``@``).
    """
    if kwargs.keys() - _LEAN_ARGUMENTS:  # files, hooks …: requests' own way, every step
        fields = {**kwargs, "headers": {**DEFAULT_HEADERS, **(kwargs.get("headers") or {})}}
        return requests.Request(method, url, **fields).prepare()
    prepared = PreparedRequest()
    prepared.prepare_method(method)
    prepared.url = _url(url, kwargs.get("params"))
    prepared.prepare_headers({**DEFAULT_HEADERS, **(kwargs.get("headers") or {})})
    if kwargs.get("cookies"):
        prepared.prepare_cookies(kwargs["cookies"])
    prepared.prepare_body(kwargs.get("data"), None, kwargs.get("json"))
    auth = kwargs.get("auth")
    if auth is not None or "@" in prepared.url:
        prepared.prepare_auth(auth, url)
    return prepared


_LEAN_ARGUMENTS = frozenset({"params", "headers", "data", "json", "auth", "cookies"})


def _url(url: str, params: Any) -> str:
    """The URL with its query, as requests prepares it; the same URL and text params are
    prepared once (a warm container asks for the same URL again and again)."""
    if not params:
        return _prepared_url(url, "")
    if isinstance(params, dict) and all(isinstance(value, str) for value in params.values()):
        return _prepared_url_with(url, tuple(params.items()))
    return _prepared_url(url, PreparedRequest._encode_params(params))


@functools.lru_cache(maxsize=64)
def _prepared_url_with(url: str, params: tuple[tuple[Any, str], ...]) -> str:
    return _prepared_url(url, PreparedRequest._encode_params(params))


@functools.lru_cache(maxsize=64)
def _prepared_url(url: str, query: str | bytes) -> str:
    """The URL as requests prepares it, with ``query`` (already encoded) appended."""
    prepared = PreparedRequest()
    prepared.prepare_url(url, query)
    return prepared.url


def _read_body(response: requests.Response, max_body: int, service: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_body:
            raise UpstreamError(f"{service} answered more than {max_body} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _is_read_timeout(exc: requests.RequestException) -> bool:
    # requests reports a timeout while reading the body as a ConnectionError.
    return isinstance(exc, requests.ReadTimeout) or any(
        isinstance(arg, ReadTimeoutError) for arg in exc.args
    )


def _timeouts(deadline: Deadline, service: str,
              connect_timeout: float) -> tuple[float, float]:
    remaining = deadline.remaining()
    if remaining is None:
        return connect_timeout, READ_TIMEOUT
    if remaining < MIN_ATTEMPT_SECONDS:
        raise UpstreamTimeout(f"no time left in the activation to call {service}")
    return min(connect_timeout, remaining), min(READ_TIMEOUT, remaining)


def _time_allows(deadline: Deadline, delay: float) -> bool:
    remaining = deadline.remaining()
    return remaining is None or remaining - delay >= MIN_ATTEMPT_SECONDS
