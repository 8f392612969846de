"""A process-wide cache of access tokens with an explicit max age.

Adobe asks integrations to reuse a token until it expires and throttles those
that mint too many. In a warm OpenWhisk container module state survives
between invocations, so one cache serves them all. Its rules:

- a token is served until ``refresh_margin`` before it expires (at least five
  minutes early, or half its lifetime when it lives less than ten minutes);
- one thread refreshes a key at a time; the others wait and take its result;
- while the old token is still valid, a refresh is one quick attempt (the fetch
  is told it has a fallback); when it fails, even for rejected credentials, the
  old token is used and IMS is left alone for ``retry_pause`` seconds;
- a credentials rejection is remembered for ``rejection_ttl`` seconds and
  answered from memory, so a wrong secret does not hammer IMS.

Memory stays bounded whatever callers send: keys are kept as fixed-size
digests, at most ``max_tokens`` tokens and ``max_rejections`` rejections are
remembered (the least recently used go first), a per-key lock lives only while
a thread holds or waits for it, and a rejection is remembered as plain values
(message and details), never as the exception, whose traceback would keep the
whole request alive.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, NamedTuple

from lib.errors import ActionError, CredentialsRejected
from lib.redact import known_secrets

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0
UNKNOWN_LIFETIME = 600.0  # a grant without a usable expires_in
MAX_LIFETIME = 86400.0  # IMS grants about 24 h; anything longer is not believed
REJECTION_TTL = 60.0
RETRY_PAUSE = 30.0  # after a failed refresh, while the old token still serves
MAX_TOKENS = 256  # identities with a cached token; the least recently used is minted again
MAX_REJECTIONS = 256  # rejected credentials remembered
MAX_DETAIL_CHARS = 500  # each remembered detail, as a rejection's details are shown


class TokenGrant(NamedTuple):
    """What the identity provider answered: the token and its lifetime in seconds, if given."""

    value: str
    lifetime: float | None

    def __repr__(self) -> str:
        return f"TokenGrant(value=<hidden>, lifetime={self.lifetime!r})"


class Token(NamedTuple):
    value: str
    expires_at: float  # on the cache's monotonic clock
    refresh_at: float
    from_cache: bool = False

    def __repr__(self) -> str:
        return (f"Token(value=<hidden>, expires_at={self.expires_at!r}, "
                f"refresh_at={self.refresh_at!r}, from_cache={self.from_cache!r})")


class _Rejection(NamedTuple):
    """A remembered rejection: plain values only, nothing that holds a frame or a request."""

    until: float
    message: str
    details: tuple[tuple[str, str | int | float | bool | None], ...]


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0  # threads holding or waiting for it


Digest = bytes


def digest(key: Hashable) -> Digest:
    """A fixed-size stand-in for ``key``: a key as long as the caller's input costs 32 bytes."""
    return hashlib.sha256(repr(key).encode("utf-8", "backslashreplace")).digest()


class TokenCache:
    def __init__(
        self,
        *,
        refresh_margin: float = REFRESH_MARGIN,
        rejection_ttl: float = REJECTION_TTL,
        retry_pause: float = RETRY_PAUSE,
        clock: Callable[[], float] = time.monotonic,
        max_tokens: int = MAX_TOKENS,
        max_rejections: int = MAX_REJECTIONS,
    ) -> None:
        self.refresh_margin = refresh_margin
        self.rejection_ttl = rejection_ttl
        self.retry_pause = retry_pause
        self.clock = clock
        self.max_tokens = max_tokens
        self.max_rejections = max_rejections
        self._tokens: OrderedDict[Digest, Token] = OrderedDict()
        self._paused_until: dict[Digest, float] = {}  # only for keys in _tokens
        self._rejections: OrderedDict[Digest, _Rejection] = OrderedDict()
        self._key_locks: dict[Digest, _KeyLock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, fetch: Callable[[bool], TokenGrant]) -> Token:
        """A fresh token for ``key``, from the cache or from one call of ``fetch``.

        ``fetch(has_fallback)`` is told whether a still-valid token is at hand, so it
        can make one quick attempt instead of retrying.
        """
        token = self._get(digest(key), fetch)
        known_secrets.add(token.value)  # in use: masked in every log line while it is
        return token

    def _get(self, key: Digest, fetch: Callable[[bool], TokenGrant]) -> Token:
        token = self._cached(key, until_refresh=True)
        if token is not None:
            return token
        with self._locked(key):
            token = self._cached(key, until_refresh=True)  # another thread may have refreshed it
            if token is not None:
                return token
            stale = self._cached(key, until_refresh=False)
            if stale is not None and self.clock() < self._paused_until.get(key, 0.0):
                return stale
            try:
                grant = self._fetch_unless_rejected(key, lambda: fetch(stale is not None))
            except ActionError as exc:
                if stale is None:
                    raise
                with self._guard:
                    if key in self._tokens:
                        self._paused_until[key] = self.clock() + self.retry_pause
                log.warning("token refresh failed; using the cached token until it expires",
                            extra={"fields": {"reason": exc.message}})
                return stale
            return self._store(key, grant)

    def invalidate(self, key: Hashable, value: str) -> None:
        """Drop ``key``'s token if it is still ``value`` (a newer one from another thread stays)."""
        hashed = digest(key)
        with self._guard:
            token = self._tokens.get(hashed)
            if token is not None and token.value == value:
                self._drop(hashed)

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()
            self._rejections.clear()
            self._paused_until.clear()

    def sizes(self) -> dict[str, int]:
        """How many entries each per-key structure holds: what a memory check looks at."""
        with self._guard:
            return {"tokens": len(self._tokens), "pauses": len(self._paused_until),
                    "rejections": len(self._rejections), "key locks": len(self._key_locks)}

    def _cached(self, key: Digest, *, until_refresh: bool) -> Token | None:
        """The cached token while fresh (``until_refresh``) or merely unexpired; else None."""
        with self._guard:
            token = self._tokens.get(key)
            if token is None:
                return None
            self._tokens.move_to_end(key)
        limit = token.refresh_at if until_refresh else token.expires_at
        return token._replace(from_cache=True) if self.clock() < limit else None

    def _store(self, key: Digest, grant: TokenGrant) -> Token:
        lifetime = usable_lifetime(grant)
        now = self.clock()
        token = Token(grant.value, now + lifetime,
                      now + refresh_after(lifetime, self.refresh_margin))
        if lifetime > 0:  # a token born expired is used once, never cached
            with self._guard:
                self._tokens[key] = token
                self._tokens.move_to_end(key)
                self._rejections.pop(key, None)
                self._paused_until.pop(key, None)
                while len(self._tokens) > self.max_tokens:
                    self._drop(next(iter(self._tokens)))
        return token

    def _drop(self, key: Digest) -> None:
        """Forget ``key``'s token (the guard is held)."""
        self._tokens.pop(key, None)
        self._paused_until.pop(key, None)

    def _fetch_unless_rejected(self, key: Digest, fetch: Callable[[], TokenGrant]) -> TokenGrant:
        self._raise_remembered_rejection(key)
        try:
            return fetch()
        except CredentialsRejected as exc:
            remembered = _Rejection(self.clock() + self.rejection_ttl, exc.message,
                                    _plain(exc.details))
            with self._guard:
                self._rejections[key] = remembered
                self._rejections.move_to_end(key)
                while len(self._rejections) > self.max_rejections:
                    del self._rejections[next(iter(self._rejections))]
            raise

    def _raise_remembered_rejection(self, key: Digest) -> None:
        with self._guard:
            remembered = self._rejections.get(key)
            if remembered is None:
                return
            if self.clock() >= remembered.until:
                del self._rejections[key]
                return
        # A new exception each time, made from plain values: nothing chains onto it.
        raise CredentialsRejected(remembered.message, details=dict(remembered.details))

    @contextlib.contextmanager
    def _locked(self, key: Digest) -> Iterator[None]:
        """``key``'s lock, made on first use and dropped when no thread holds or awaits it."""
        with self._guard:
            entry = self._key_locks.get(key)
            if entry is None:
                entry = self._key_locks[key] = _KeyLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._key_locks[key]


def usable_lifetime(grant: TokenGrant) -> float:
    """The seconds a grant is believed to live: its own lifetime, bounded, or a cautious guess."""
    return UNKNOWN_LIFETIME if grant.lifetime is None else min(grant.lifetime, MAX_LIFETIME)


def refresh_after(lifetime: float, margin: float = REFRESH_MARGIN) -> float:
    """Seconds after its grant when a token is renewed: ``margin`` early, or at half its life.

    The local cache and the shared store (whose entries expire here) use the same point.
    """
    return lifetime - min(margin, lifetime / 2)


def _plain(details: Mapping[str, Any]) -> tuple[tuple[str, str | int | float | bool | None], ...]:
    """A rejection's details as plain, bounded values (text, numbers), safe to keep for a minute."""
    kept: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in details.items():
        if value is None or isinstance(value, (bool, int, float)):
            kept.append((str(name)[:100], value))
        else:
            kept.append((str(name)[:100], str(value)[:MAX_DETAIL_CHARS]))
    return tuple(kept)
