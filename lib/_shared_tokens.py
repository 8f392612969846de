"""The second level of the token cache: one IMS token per credential across the whole fleet.

A Python container serves one activation at a time, so a burst of N requests
is N cold containers, each with an empty cache. When the container's own cache
misses, the token is read from the shared store (Redis); only when the store
has no valid token is IMS asked, and the token written back with a time to
live ending at its early-refresh point (lib/_token_cache.py).

Fleet-wide single flight: of the containers that miss at once, the one that
takes a short lock (``SET NX PX``) mints; the others poll the store briefly,
within the activation's deadline, and mint themselves only if no token comes.
A lock is released by its owner only. When an API rejects a token, the shared
entry is dropped only if it still holds that token, so a newer one stays.

Imported only when ``IMS_TOKEN_STORE_URL`` is set (lib/ims.py); without
redis-py or ``cryptography`` the store is disabled with one warning, and no
token is ever written unsealed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from lib import _token_seal as seal
from lib._store_client import StoreClient
from lib._token_cache import TokenGrant, refresh_after, usable_lifetime
from lib.log import fields

if TYPE_CHECKING:
    from lib.deadline import Deadline
    from lib.ims import S2SCredentials

log = logging.getLogger(__name__)

LOCK_MS = 10_000  # a minter that dies frees the others after this long at most
MAX_WAIT = 3.0  # seconds a container waits for another's token before minting itself
POLL_SECONDS = 0.02
MIN_REMAINING = 60.0  # seconds a stored token must still live to be served (clock skew)
MAX_REMEMBERED = 256  # sealed values remembered, to drop exactly the one that was rejected


class SharedTokens:
    """The fleet's tokens in one Redis, sealed (lib/_token_seal.py)."""

    def __init__(self, client: StoreClient, *, max_wait: float = MAX_WAIT) -> None:
        self.client = client
        self.max_wait = max_wait
        self._seen: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # name -> token, value
        self._guard = threading.Lock()

    def fetch(self, token_url: str, credentials: S2SCredentials, deadline: Deadline,
              mint: Callable[[], TokenGrant]) -> TokenGrant:
        """A token from the store, or from ``mint`` (then shared); never fails for the store."""
        name = _name(token_url, credentials)
        grant = self._read(name, credentials)
        if grant is not None or not self.client.available:
            return grant or mint()
        owner = secrets.token_hex(16).encode()
        give_up = time.monotonic() + _wait_budget(self.max_wait, deadline)
        while True:
            if self.client.add(seal.lock_name(name), owner, LOCK_MS):
                try:
                    # A token may have landed between the read and the lock.
                    return self._read(name, credentials) or self._share(name, credentials, mint())
                finally:
                    self.client.delete_if(seal.lock_name(name), owner)
            if not self.client.available or time.monotonic() + POLL_SECONDS >= give_up:
                return self._share(name, credentials, mint())
            time.sleep(POLL_SECONDS)
            grant = self._read(name, credentials)
            if grant is not None:
                return grant

    def discard(self, token_url: str, credentials: S2SCredentials, token: str) -> None:
        """An API rejected ``token``: drop the shared entry if it still holds it."""
        name = _name(token_url, credentials)
        with self._guard:
            seen = self._seen.pop(name, None)
        if seen is not None and seen[0] == token and self.client.delete_if(name, seen[1]):
            log.info("rejected token dropped from the shared token store",
                     extra=fields(store=self.client.name))

    def _read(self, name: str, credentials: S2SCredentials) -> TokenGrant | None:
        value = self.client.get(name)
        if value is None:
            return None
        opened = seal.unseal(credentials.client_secret, name, value)
        if opened is None:
            log.warning("shared token store entry does not open; minting a new token",
                        extra=fields(store=self.client.name))
            return None
        token, expires_at = opened
        remaining = expires_at - time.time()
        if remaining < MIN_REMAINING:
            return None
        self._remember(name, token, value)
        log.debug("IMS token from the shared token store")
        return TokenGrant(token, remaining)

    def _share(self, name: str, credentials: S2SCredentials, grant: TokenGrant) -> TokenGrant:
        """Write a freshly minted token for the fleet, to live until its early-refresh point."""
        lifetime = usable_lifetime(grant)
        ttl_ms = int(refresh_after(lifetime) * 1000)
        if ttl_ms > 0:
            value = seal.seal(credentials.client_secret, name, grant.value, time.time() + lifetime)
            if self.client.put(name, value, ttl_ms):
                self._remember(name, grant.value, value)
        return grant

    def _remember(self, name: str, token: str, value: bytes) -> None:
        with self._guard:
            self._seen[name] = (token, value)
            self._seen.move_to_end(name)
            while len(self._seen) > MAX_REMEMBERED:
                del self._seen[next(iter(self._seen))]


def _name(token_url: str, credentials: S2SCredentials) -> str:
    return seal.entry_name(credentials.client_secret, credentials.client_id, credentials.scopes,
                           token_url)


def _wait_budget(max_wait: float, deadline: Deadline) -> float:
    """How long to wait for another container's token: at most half the time left."""
    remaining = deadline.remaining()
    return max_wait if remaining is None else max(0.0, min(max_wait, remaining / 2))


_stores: dict[str, SharedTokens] = {}
_stores_lock = threading.Lock()


def shared_tokens(url: str) -> SharedTokens:
    """The store at ``url``, made once per process: its connections outlive the activation."""
    with _stores_lock:
        if url not in _stores:
            _stores[url] = SharedTokens(StoreClient(url))
        return _stores[url]
