"""HTTP for actions: one keep-alive session, a timeout on every call, bounded retries.

The session lives at module level, so a warm container reuses its connections
across invocations. Retries follow Adobe's own Node stack (network errors, 429
and 502/503/504, exponential backoff, ``Retry-After`` honoured) and never run
past the activation's deadline. Bodies are read with a size limit, because
OpenWhisk drops an action result over 1 MB.

A warm call costs little beyond its round trip: each request is prepared with
only the steps it needs and handed to the session's adapter, whose pool lookup
and response building skip what these requests never use (lib/_transport.py).
Everything below stays requests' and urllib3's own.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import requests
from urllib3.exceptions import ReadTimeoutError

from lib.deadline import Deadline
from lib.errors import ActionError, UpstreamError, UpstreamRateLimited, UpstreamTimeout
from lib.web import MAX_PAYLOAD_BYTES

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
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
            from lib._transport import Adapter  # with the first request, not at import

            new = requests.Session()
            new.trust_env = False
            adapter = Adapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            new.mount("https://", adapter)
            new.mount("http://", adapter)
            _session = new
        return _session


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
    # An adapter never follows redirects. The transport loads with the first request, not at
    # import: the action's import stays light, and a warm call finds it in sys.modules.
    from lib._transport import prepare, sending
    from lib._watchdog import watchdog

    prepared = prepare(method, url, kwargs)
    remaining = deadline.remaining()
    sending.until = None if remaining is None else time.monotonic() + remaining
    sending.ticket = None  # set by the connection once the request is sent (_ArmedConnection)
    try:
        with session().get_adapter(url).send(prepared, stream=True, timeout=timeouts,
                                             verify=transport.verify,
                                             proxies=dict(transport.proxies)) as response:
            if sending.ticket is None and sending.until is not None:  # a proxied request
                sock = getattr(response.raw.connection, "sock", None)
                if sock is not None:
                    sending.ticket = watchdog.arm(sock, sending.until - time.monotonic())
            try:
                body = _read_body(response, max_body, service)
            except requests.RequestException as exc:
                if sending.ticket is not None and watchdog.disarm(sending.ticket):
                    raise UpstreamTimeout(f"{service} did not finish its answer in time") \
                        from exc
                raise
            if sending.ticket is not None and watchdog.disarm(sending.ticket):
                # Cut at the deadline while reading what read as a whole answer: not one.
                raise UpstreamTimeout(f"{service} did not finish its answer in time")
            return Answer(response.status_code, response.headers, body)
    except requests.RequestException as exc:
        if sending.ticket is not None and watchdog.disarm(sending.ticket):
            raise UpstreamTimeout(f"{service} did not answer within {timeouts[1]:.1f} s") \
                from exc
        raise
    finally:
        if sending.ticket is not None:
            watchdog.disarm(sending.ticket)
        sending.until = sending.ticket = None


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
