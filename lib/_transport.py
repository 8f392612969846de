"""How a request is sent: what lib.http hands each request to, trimmed for a warm call.

- :func:`prepare` makes what ``requests.Request(...).prepare()`` makes, with
  only the steps these requests need;
- :class:`Adapter` is requests' own adapter less two per-send steps they never
  use (``send`` stays requests', so what mocks it sees every request);
- its urllib3 connections hand their socket to the watchdog as soon as a request
  is sent (:data:`sending` holds the deadline), so a server that trickles its
  status line and headers is cut off at the deadline, as one that trickles its
  body is.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lib._watchdog import watchdog

DEFAULT_HEADERS = {
    "User-Agent": f"ow-adobe-s2s python-requests/{requests.__version__}",
    "Accept-Encoding": "gzip, deflate",
}


class Adapter(HTTPAdapter):
    """requests' adapter, less two steps of each send that these requests never need.

    Both are hooks requests documents for subclasses. ``send`` itself stays
    requests' own, so what mocks it (the ``responses`` library in the tests) still
    sees every request, and requests' urllib3 pool still owns TLS and keep-alive.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, Any, Any], Any] = {}
        self.poolmanager.pool_classes_by_scheme = POOLS  # connections armed at the deadline

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


class _ArmedConnection:
    """Hands its socket to the watchdog as soon as a request is sent on it, so a server that
    trickles its status line and headers is cut off at the deadline, as one that trickles
    its body is. Mixed into urllib3's own connection classes (``POOLS``)."""

    sock: Any

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc] - urllib3's, next in the MRO
        until = getattr(sending, "until", None)
        if until is not None and self.sock is not None:
            sending.ticket = watchdog.arm(self.sock, until - time.monotonic())


class _ArmedHTTPConnection(_ArmedConnection, HTTPConnection):
    pass


class _ArmedHTTPSConnection(_ArmedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _ArmedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _ArmedHTTPSConnection


POOLS = {"http": _HTTPPool, "https": _HTTPSPool}
# The deadline of the request this thread is sending, and the watchdog's ticket for it.
sending = threading.local()


def prepare(method: str, url: str, kwargs: Mapping[str, Any]) -> PreparedRequest:
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
