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
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import NamedTuple

from lib.errors import ActionError, CredentialsRejected

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0
UNKNOWN_LIFETIME = 600.0  # a grant without a usable expires_in
MAX_LIFETIME = 86400.0  # IMS grants about 24 h; anything longer is not believed
REJECTION_TTL = 60.0
RETRY_PAUSE = 30.0  # after a failed refresh, while the old token still serves


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


class TokenCache:
    def __init__(
        self,
        *,
        refresh_margin: float = REFRESH_MARGIN,
        rejection_ttl: float = REJECTION_TTL,
        retry_pause: float = RETRY_PAUSE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_margin = refresh_margin
        self.rejection_ttl = rejection_ttl
        self.retry_pause = retry_pause
        self.clock = clock
        self._tokens: dict[Hashable, Token] = {}
        self._rejections: dict[Hashable, tuple[float, CredentialsRejected]] = {}
        self._paused_until: dict[Hashable, float] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, fetch: Callable[[bool], TokenGrant]) -> Token:
        """A fresh token for ``key``, from the cache or from one call of ``fetch``.

        ``fetch(has_fallback)`` is told whether a still-valid token is at hand, so it
        can make one quick attempt instead of retrying.
        """
        token = self._cached(key, until_refresh=True)
        if token is not None:
            return token
        with self._lock_for(key):
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
                    self._paused_until[key] = self.clock() + self.retry_pause
                log.warning("token refresh failed; using the cached token until it expires",
                            extra={"fields": {"reason": exc.message}})
                return stale
            return self._store(key, grant)

    def invalidate(self, key: Hashable, value: str) -> None:
        """Drop ``key``'s token if it is still ``value`` (a newer one from another thread stays)."""
        with self._guard:
            token = self._tokens.get(key)
            if token is not None and token.value == value:
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()
            self._rejections.clear()
            self._paused_until.clear()

    def _cached(self, key: Hashable, *, until_refresh: bool) -> Token | None:
        """The cached token while fresh (``until_refresh``) or merely unexpired; else None."""
        token = self._tokens.get(key)
        if token is None:
            return None
        limit = token.refresh_at if until_refresh else token.expires_at
        return token._replace(from_cache=True) if self.clock() < limit else None

    def _store(self, key: Hashable, grant: TokenGrant) -> Token:
        lifetime = UNKNOWN_LIFETIME if grant.lifetime is None else min(grant.lifetime, MAX_LIFETIME)
        now = self.clock()
        token = Token(grant.value, now + lifetime,
                      now + lifetime - min(self.refresh_margin, lifetime / 2))
        if lifetime > 0:  # a token born expired is used once, never cached
            with self._guard:
                self._tokens[key] = token
                self._rejections.pop(key, None)
                self._paused_until.pop(key, None)
        return token

    def _fetch_unless_rejected(self, key: Hashable, fetch: Callable[[], TokenGrant]) -> TokenGrant:
        self._raise_remembered_rejection(key)
        try:
            return fetch()
        except CredentialsRejected as exc:
            with self._guard:
                self._rejections[key] = (self.clock() + self.rejection_ttl, exc)
            raise

    def _raise_remembered_rejection(self, key: Hashable) -> None:
        with self._guard:
            remembered = self._rejections.get(key)
            if remembered is None:
                return
            until, exc = remembered
            if self.clock() >= until:
                del self._rejections[key]
                return
        # A copy: raising the stored one again would chain every caller's frames onto it.
        raise copy.copy(exc)

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._key_locks.setdefault(key, threading.Lock())
