"""lib._token_cache on a clock the tests move: expiry, early refresh, failures, threads."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

import pytest

from lib._token_cache import (
    MAX_LIFETIME,
    REFRESH_MARGIN,
    REJECTION_TTL,
    RETRY_PAUSE,
    UNKNOWN_LIFETIME,
    TokenCache,
    TokenGrant,
)
from lib.errors import CredentialsRejected, UpstreamError, UpstreamTimeout
from tests.action_support import FakeClock

KEY = ("https://ims.example/token", "client", "secret-hash", ("openid",))


class Provider:
    """A scripted identity provider: each fetch takes the next outcome (a grant or an error)."""

    def __init__(self, *outcomes: TokenGrant | Exception) -> None:
        self.outcomes = list(outcomes)
        self.fetches = 0
        self.fallbacks: list[bool] = []  # what each fetch was told

    def __call__(self, has_fallback: bool) -> TokenGrant:
        self.fetches += 1
        self.fallbacks.append(has_fallback)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> TokenCache:
    return TokenCache(clock=clock)


def test_a_token_is_served_from_cache_until_the_refresh_margin(
    cache: TokenCache, clock: FakeClock
) -> None:
    provider = Provider(TokenGrant("tok-1", 3600), TokenGrant("tok-2", 3600))
    first = cache.get(KEY, provider)
    assert (first.value, first.from_cache) == ("tok-1", False)
    assert first.expires_at == clock.now + 3600
    assert first.refresh_at == clock.now + 3600 - REFRESH_MARGIN

    clock.advance(3600 - REFRESH_MARGIN - 1)
    cached = cache.get(KEY, provider)
    assert (cached.value, cached.from_cache, provider.fetches) == ("tok-1", True, 1)

    clock.advance(1)  # now inside the margin: refreshed, although not yet expired
    refreshed = cache.get(KEY, provider)
    assert (refreshed.value, refreshed.from_cache, provider.fetches) == ("tok-2", False, 2)


def test_refresh_margin_is_at_least_five_minutes() -> None:
    assert REFRESH_MARGIN >= 300


def test_a_short_lived_token_is_refreshed_at_half_its_life(
    cache: TokenCache, clock: FakeClock
) -> None:
    provider = Provider(TokenGrant("short", 120))
    token = cache.get(KEY, provider)
    assert token.refresh_at == clock.now + 60
    clock.advance(59)
    cache.get(KEY, provider)
    assert provider.fetches == 1
    clock.advance(1)
    cache.get(KEY, provider)
    assert provider.fetches == 2


def test_a_grant_without_lifetime_is_kept_for_a_conservative_time(
    cache: TokenCache, clock: FakeClock
) -> None:
    token = cache.get(KEY, Provider(TokenGrant("no-expiry", None)))
    assert token.expires_at == clock.now + UNKNOWN_LIFETIME
    assert UNKNOWN_LIFETIME <= 3600


def test_huge_lifetimes_are_capped(cache: TokenCache, clock: FakeClock) -> None:
    provider = Provider(TokenGrant("forever", 1e12))
    token = cache.get(KEY, provider)
    assert token.expires_at == clock.now + MAX_LIFETIME
    clock.advance(MAX_LIFETIME)
    cache.get(KEY, provider)
    assert provider.fetches == 2


@pytest.mark.parametrize("lifetime", [0, -1, -86400])
def test_a_token_born_expired_is_used_once_not_cached(
    cache: TokenCache, lifetime: float
) -> None:
    provider = Provider(TokenGrant("expired", lifetime))
    assert cache.get(KEY, provider).value == "expired"
    cache.get(KEY, provider)
    assert provider.fetches == 2


def test_a_failed_refresh_serves_the_unexpired_token_until_it_expires(
    cache: TokenCache, clock: FakeClock
) -> None:
    provider = Provider(TokenGrant("old", 3600), UpstreamTimeout("IMS too slow"))
    cache.get(KEY, provider)
    clock.advance(3600 - 1)  # inside the refresh margin, not yet expired
    stale = cache.get(KEY, provider)
    assert (stale.value, stale.from_cache, provider.fetches) == ("old", True, 2)
    assert provider.fallbacks == [False, True]  # the refresh knew it could be quick
    clock.advance(1)  # expired: IMS is asked again and its failure raised
    with pytest.raises(UpstreamTimeout):
        cache.get(KEY, provider)
    assert provider.fetches == 3
    assert provider.fallbacks[-1] is False


def test_after_a_failed_refresh_ims_is_left_alone_for_a_while(
    cache: TokenCache, clock: FakeClock
) -> None:
    provider = Provider(TokenGrant("old", 3600), UpstreamError("IMS down"),
                        UpstreamError("IMS down"), TokenGrant("new", 3600))
    cache.get(KEY, provider)
    clock.advance(3600 - REFRESH_MARGIN)
    assert cache.get(KEY, provider).value == "old"  # asked once, failed
    clock.advance(RETRY_PAUSE - 1)
    assert cache.get(KEY, provider).value == "old"  # paused: not asked
    assert provider.fetches == 2
    clock.advance(1)
    assert cache.get(KEY, provider).value == "old"  # asked again, failed again
    clock.advance(RETRY_PAUSE)
    assert cache.get(KEY, provider).value == "new"
    assert provider.fetches == 4


def test_a_rejected_refresh_serves_the_unexpired_token_and_is_remembered(
    cache: TokenCache, clock: FakeClock
) -> None:
    """A secret rotated in the console: the token minted before stays good until it expires."""
    provider = Provider(TokenGrant("old", 3600), CredentialsRejected("invalid_client"))
    cache.get(KEY, provider)
    clock.advance(3600 - 60)  # inside the refresh margin
    assert cache.get(KEY, provider).value == "old"
    assert cache.get(KEY, provider).value == "old"
    assert provider.fetches == 2  # the rejection is remembered, not asked again
    clock.advance(60)  # expired and the rejection is over a minute old: asked, and raised
    with pytest.raises(CredentialsRejected):
        cache.get(KEY, provider)
    assert provider.fetches == 3


def test_a_failure_without_any_token_is_raised(cache: TokenCache) -> None:
    with pytest.raises(UpstreamError, match="down"):
        cache.get(KEY, Provider(UpstreamError("down")))


def test_a_rejection_is_remembered_then_asked_again(cache: TokenCache, clock: FakeClock) -> None:
    rejection = CredentialsRejected("IMS rejected the credentials: invalid_client",
                                    details={"x_debug_id": "d-1"})
    provider = Provider(rejection, TokenGrant("good", 3600))
    with pytest.raises(CredentialsRejected):
        cache.get(KEY, provider)
    clock.advance(REJECTION_TTL - 1)
    with pytest.raises(CredentialsRejected) as remembered:
        cache.get(KEY, provider)
    assert provider.fetches == 1  # answered from memory
    assert remembered.value.details == {"x_debug_id": "d-1"}
    clock.advance(1)
    assert cache.get(KEY, provider).value == "good"
    assert provider.fetches == 2


def test_a_remembered_rejection_does_not_grow_with_each_answer(cache: TokenCache) -> None:
    """A warm container answers from memory many times a minute: nothing may pile up."""
    provider = Provider(CredentialsRejected("IMS rejected the credentials: invalid_client"))
    depths = []
    for _ in range(5):
        with pytest.raises(CredentialsRejected) as caught:
            cache.get(KEY, provider)
        depths.append(len(traceback.extract_tb(caught.value.__traceback__)))
    assert provider.fetches == 1
    assert depths[1:] == [depths[1]] * 4


def test_rejection_memory_is_about_a_minute() -> None:
    assert 30 <= REJECTION_TTL <= 120


def test_a_rejection_does_not_block_other_credentials(cache: TokenCache) -> None:
    with pytest.raises(CredentialsRejected):
        cache.get(KEY, Provider(CredentialsRejected("no")))
    other = (*KEY[:2], "another-secret-hash", KEY[3])
    assert cache.get(other, Provider(TokenGrant("other", 3600))).value == "other"


def test_other_failures_are_not_remembered(cache: TokenCache) -> None:
    provider = Provider(UpstreamError("IMS answered HTTP 500"), TokenGrant("good", 3600))
    with pytest.raises(UpstreamError):
        cache.get(KEY, provider)
    assert cache.get(KEY, provider).value == "good"


def test_invalidate_drops_only_the_same_value(cache: TokenCache) -> None:
    provider = Provider(TokenGrant("first", 3600), TokenGrant("second", 3600))
    cache.get(KEY, provider)
    cache.invalidate(KEY, "not-the-cached-one")  # another thread already replaced it
    assert cache.get(KEY, provider).value == "first"
    cache.invalidate(KEY, "first")
    assert cache.get(KEY, provider).value == "second"
    cache.invalidate(("unknown",), "first")  # nothing cached there: no error


def test_clear_forgets_tokens_and_rejections(cache: TokenCache) -> None:
    tokens = Provider(TokenGrant("a", 3600), TokenGrant("b", 3600))
    cache.get(KEY, tokens)
    other = ("other",)
    with pytest.raises(CredentialsRejected):
        cache.get(other, Provider(CredentialsRejected("no")))
    cache.clear()
    assert cache.get(KEY, tokens).value == "b"
    assert cache.get(other, Provider(TokenGrant("c", 3600))).value == "c"


def test_keys_are_independent(cache: TokenCache) -> None:
    assert cache.get(("a",), Provider(TokenGrant("for-a", 3600))).value == "for-a"
    assert cache.get(("b",), Provider(TokenGrant("for-b", 3600))).value == "for-b"
    assert cache.get(("a",), Provider(TokenGrant("unused", 3600))).value == "for-a"


def run_together(count: int, work: Callable[[], str]) -> list[str]:
    """``work`` in ``count`` threads released at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        value = work()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_concurrent_callers_share_one_fetch() -> None:
    cache = TokenCache()
    fetches = 0

    def slow_fetch(has_fallback: bool) -> TokenGrant:
        nonlocal fetches
        fetches += 1
        time.sleep(0.2)  # long enough for every other thread to arrive and wait
        return TokenGrant(f"token-{fetches}", 3600)

    results = run_together(16, lambda: cache.get(KEY, slow_fetch).value)
    assert results == ["token-1"] * 16
    assert fetches == 1


def test_concurrent_callers_share_one_rejection() -> None:
    cache = TokenCache()
    fetches = 0

    def rejecting_fetch(has_fallback: bool) -> TokenGrant:
        nonlocal fetches
        fetches += 1
        time.sleep(0.2)
        raise CredentialsRejected("IMS rejected the credentials: invalid_client")

    def attempt() -> str:
        try:
            cache.get(KEY, rejecting_fetch)
        except CredentialsRejected as exc:
            return exc.message
        return "no error"

    results = run_together(8, attempt)
    assert results == ["IMS rejected the credentials: invalid_client"] * 8
    assert fetches == 1
