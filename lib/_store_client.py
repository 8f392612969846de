"""The Redis commands the shared token store uses, each unable to fail a call.

A store that refuses connections, hangs, answers garbage or refuses the
password costs one call at most a connect timeout (refused or unreachable) or
a read timeout (hanging); the failure is logged once, naming the store by its
host (never its password), and the store is then left alone for
``BACKOFF_SECONDS``, so warm and cold calls alike go on as without a store.

Imported only when a store is configured: it needs redis-py, which the zip of
an action whose manifest gives ``IMS_TOKEN_STORE_URL`` carries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lib._store_env import register_password, store_name
from lib.log import fields
from lib.redact import known_secrets

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.1  # seconds: a refused or unreachable store
READ_TIMEOUT = 0.25  # seconds: a store that accepts and never answers
BACKOFF_SECONDS = 30.0  # after a failure, calls go on without the store this long

# Deletes KEYS[1] only while it holds ARGV[1], in one step: a lock is released by its owner
# only, and a rejected token is dropped only if no container has replaced it meanwhile.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

T = TypeVar("T")


class StoreClient:
    """Redis GET, SET, DEL-if-equal, behind a back-off that keeps a failing store out of calls."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        register_password(url)
        self.name = store_name(url)
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()
        try:
            self._redis: redis.Redis | None = redis.Redis.from_url(
                url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=READ_TIMEOUT,
                retry=Retry(NoBackoff(), 0), health_check_interval=0)
        except (ValueError, redis.RedisError) as exc:
            self._redis = None
            log.warning("shared token store disabled: IMS_TOKEN_STORE_URL is not a redis://, "
                        "rediss:// or unix:// URL", extra=fields(store=self.name,
                                                                reason=type(exc).__name__))

    @property
    def available(self) -> bool:
        """False while backing off after a failure (or when the URL was unusable)."""
        return self._redis is not None and self._clock() >= self._down_until

    def get(self, key: str) -> bytes | None:
        return self._call(lambda r: r.get(key), None)

    def put(self, key: str, value: bytes, ttl_ms: int) -> bool:
        return bool(self._call(lambda r: r.set(key, value, px=max(1, ttl_ms)), False))

    def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        """SET NX PX: True when the key was absent and is now ``value``."""
        return bool(self._call(lambda r: r.set(key, value, px=max(1, ttl_ms), nx=True), False))

    def delete_if(self, key: str, value: bytes) -> bool:
        """Delete ``key`` only while it holds ``value`` (atomic, in Redis)."""
        return bool(self._call(lambda r: r.eval(COMPARE_AND_DELETE, 1, key, value), False))

    def _call(self, command: Callable[[redis.Redis], T], failed: T) -> T:
        if not self.available or self._redis is None:
            return failed
        try:
            return command(self._redis)
        except Exception as exc:  # whatever the store does, the call goes on
            self._back_off(exc)
            return failed

    def _back_off(self, exc: Exception) -> None:
        with self._lock:
            if self._clock() < self._down_until:
                return  # another thread has already said so
            self._down_until = self._clock() + BACKOFF_SECONDS
        log.warning("shared token store unavailable; going on without it",
                    extra=fields(store=self.name, reason=type(exc).__name__,
                                 detail=known_secrets.mask(str(exc))[:200],
                                 retry_in_seconds=BACKOFF_SECONDS))
