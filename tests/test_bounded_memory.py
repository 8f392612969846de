"""Memory stays bounded under hostile or many credentials, and what is in use stays masked.

Every per-key structure of the token cache and the list of values to mask is
bounded; a remembered rejection keeps plain values, never the exception (whose
traceback would keep the request, secret included, alive); the live token and
secret never drop out of the masking list while an invocation uses them.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import weakref
from typing import Any

import pytest

from actions.generic import main
from lib import ims
from lib._token_cache import TokenCache, TokenGrant
from lib.credentials import identity_from_params
from lib.deadline import Deadline
from lib.errors import CredentialsRejected
from lib.redact import HIDDEN, KnownSecrets, known_secrets
from tests.action_support import FakeClock
from tools.sandbox import AdobeEmulator

# --- the token cache ---------------------------------------------------------------------------


def grant(value: str) -> Any:
    return lambda has_fallback: TokenGrant(value, 3600)


def rejection(message: str = "IMS rejected the credentials: invalid_client") -> Any:
    def fetch(has_fallback: bool) -> TokenGrant:
        raise CredentialsRejected(message, details={"x_debug_id": "d-1"})
    return fetch


def test_cached_tokens_are_bounded_least_recently_used_first() -> None:
    cache = TokenCache(max_tokens=3)
    for name in ("a", "b", "c"):
        cache.get((name,), grant(f"tok-{name}"))
    cache.get(("a",), grant("unused"))  # "a" used again: "b" is now the oldest
    cache.get(("d",), grant("tok-d"))
    assert cache.sizes()["tokens"] == 3
    assert cache.get(("a",), grant("new-a")).value == "tok-a"
    assert cache.get(("b",), grant("new-b")).value == "new-b"  # forgotten: minted again


def test_remembered_rejections_are_bounded_oldest_first() -> None:
    cache = TokenCache(max_rejections=3)
    for index in range(10):
        with pytest.raises(CredentialsRejected):
            cache.get((f"wrong-{index}",), rejection())
    assert cache.sizes()["rejections"] == 3
    with pytest.raises(CredentialsRejected):  # still remembered: not asked again
        cache.get(("wrong-9",), grant("never"))
    assert cache.get(("wrong-0",), grant("asked-again")).value == "asked-again"


def test_a_pause_after_a_failed_refresh_goes_with_its_token() -> None:
    clock = FakeClock()
    cache = TokenCache(max_tokens=2, clock=clock)
    cache.get(("a",), grant("old"))
    clock.advance(3600 - 60)

    def failing(has_fallback: bool) -> TokenGrant:
        raise CredentialsRejected("no")

    assert cache.get(("a",), failing).value == "old"
    assert cache.sizes()["pauses"] == 1
    cache.get(("b",), grant("b"))
    cache.get(("c",), grant("c"))  # "a" is forgotten, and its pause with it
    assert cache.sizes() == {"tokens": 2, "pauses": 0, "rejections": 1, "key locks": 0}


def test_key_locks_live_only_while_needed() -> None:
    cache = TokenCache()
    for index in range(100):
        cache.get((f"key-{index}",), grant(f"tok-{index}"))
        with pytest.raises(CredentialsRejected):
            cache.get((f"bad-{index}",), rejection())
    assert cache.sizes()["key locks"] == 0


def test_a_lock_is_kept_while_threads_wait_for_it() -> None:
    cache = TokenCache()
    started, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow(has_fallback: bool) -> TokenGrant:
        started.set()
        release.wait(5)
        return TokenGrant("shared", 3600)

    threads = [threading.Thread(target=cache.get, args=(("k",), slow)) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait(5)
    seen.append(cache.sizes()["key locks"])
    release.set()
    for thread in threads:
        thread.join(5)
    assert seen == [1]
    assert cache.sizes()["key locks"] == 0


def test_keys_are_kept_as_fixed_size_digests() -> None:
    cache = TokenCache()
    huge = ("https://ims.example/token", "c" * 1_000_000, "hash", ("s" * 100_000,))
    cache.get(huge, grant("tok"))
    with pytest.raises(CredentialsRejected):
        cache.get((*huge[:2], "other-hash", huge[3]), rejection())
    assert cache.get(huge, grant("unused")).value == "tok"
    keys = [*cache._tokens, *cache._rejections]
    assert keys
    assert all(isinstance(key, bytes) and len(key) == 32 for key in keys)
    assert all(sys.getsizeof(key) < 100 for key in keys)


class Request:
    """Stands for a large request: what a remembered rejection must not keep alive."""

    def __init__(self) -> None:
        self.body = "x" * 1_000_000


def test_a_remembered_rejection_keeps_no_exception_and_no_request() -> None:
    cache = TokenCache()
    request = Request()
    alive = weakref.ref(request)

    def rejecting(has_fallback: bool, request: Request = request) -> TokenGrant:
        assert request.body  # the request is in this frame, as in request_token's
        raise CredentialsRejected("IMS rejected the credentials: invalid_client",
                                  details={"x_debug_id": "d-1", "ims_error": "invalid_client"})

    with contextlib.suppress(CredentialsRejected):
        cache.get(("k",), rejecting)
    del request, rejecting
    gc.collect()
    assert alive() is None  # nothing holds the frame that held the request
    assert not [o for o in gc.get_objects() if isinstance(o, CredentialsRejected)]
    remembered = list(cache._rejections.values())
    assert len(remembered) == 1
    for value in (*remembered[0][:2], *(v for pair in remembered[0].details for v in pair)):
        assert isinstance(value, (str, int, float, bool, type(None)))

    with pytest.raises(CredentialsRejected) as again:  # answered from memory, the same way
        cache.get(("k",), grant("never"))
    assert again.value.message == "IMS rejected the credentials: invalid_client"
    assert again.value.details == {"x_debug_id": "d-1", "ims_error": "invalid_client"}
    assert again.value.__cause__ is None
    assert again.value.__context__ is None


def test_remembered_details_are_bounded() -> None:
    cache = TokenCache()
    huge = {"ims_error_description": "d" * 100_000, "object": object(), "n": 3}

    def rejecting(has_fallback: bool) -> TokenGrant:
        raise CredentialsRejected("rejected", details=huge)

    with pytest.raises(CredentialsRejected):
        cache.get(("k",), rejecting)
    with pytest.raises(CredentialsRejected) as again:
        cache.get(("k",), rejecting)
    assert len(again.value.details["ims_error_description"]) == 500
    assert isinstance(again.value.details["object"], str)
    assert again.value.details["n"] == 3


# --- the masking list ------------------------------------------------------------------------


def test_known_secrets_are_bounded_in_characters_too() -> None:
    secrets = KnownSecrets()
    for index in range(10):
        secrets.add(f"{index}-" + "t" * (KnownSecrets.MAX_CHARS // 4))
    assert len(secrets) <= 4
    assert secrets._chars <= KnownSecrets.MAX_CHARS


def flood(secrets: KnownSecrets, prefix: str, count: int) -> None:
    """``count`` other values, added by another thread outside any block (other traffic)."""
    thread = threading.Thread(
        target=lambda: [secrets.add(f"{prefix}-{index:04d}") for index in range(count)])
    thread.start()
    thread.join(10)


def test_a_value_in_use_is_never_forgotten() -> None:
    secrets = KnownSecrets()
    with secrets.in_use():
        secrets.add("live-client-secret")
        secrets.add("live-access-token")
        flood(secrets, "other-value", 1000)
        assert secrets.mask("live-client-secret live-access-token") == f"{HIDDEN} {HIDDEN}"
        assert len(secrets) == KnownSecrets.MAX_ENTRIES
    flood(secrets, "later-value", KnownSecrets.MAX_ENTRIES)  # out of use: forgotten as any
    assert secrets.mask("live-client-secret") == "live-client-secret"
    assert len(secrets) == KnownSecrets.MAX_ENTRIES


def test_a_value_in_use_by_another_thread_is_kept() -> None:
    secrets = KnownSecrets()
    added, done = threading.Event(), threading.Event()

    def invocation() -> None:
        with secrets.in_use():
            secrets.add("other-thread-secret")
            added.set()
            done.wait(5)

    thread = threading.Thread(target=invocation)
    thread.start()
    added.wait(5)
    for index in range(500):  # this thread, outside any block
        secrets.add(f"flood-{index:04d}")
    assert secrets.mask("other-thread-secret") == HIDDEN
    done.set()
    thread.join(5)


def test_nested_blocks_hold_until_the_outer_one_ends() -> None:
    secrets = KnownSecrets()
    with secrets.in_use():
        with secrets.in_use():
            secrets.add("held-by-outer")
        flood(secrets, "flood", 200)
        assert secrets.mask("held-by-outer") == HIDDEN


def test_the_live_secret_and_token_stay_masked_whatever_else_is_seen(
        adobe: AdobeEmulator) -> None:
    """A warm container that hundreds of identities passed through since: when the sandbox
    identity comes back, its secret and its cached token are masked again for the call."""
    deadline = Deadline(None)
    with known_secrets.in_use():
        identity = identity_from_params(adobe.params())
        token = ims.get_token(adobe.ims_token_url, identity.credentials, deadline).value
    for index in range(KnownSecrets.MAX_ENTRIES * 2):  # other invocations' values
        known_secrets.add(f"someone-else-{index:04d}-secret")
    assert known_secrets.mask(token) == token  # forgotten while nothing used it
    with known_secrets.in_use():
        identity = identity_from_params(adobe.params())
        cached = ims.get_token(adobe.ims_token_url, identity.credentials, deadline)
        assert cached.from_cache
        for index in range(KnownSecrets.MAX_ENTRIES * 2):
            known_secrets.add(f"meanwhile-{index:04d}-secret")
        assert known_secrets.mask(f"{token} {adobe.client_secret}") == f"{HIDDEN} {HIDDEN}"


def test_the_action_holds_its_values_for_the_invocation(adobe: AdobeEmulator,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """web_action opens the block: values added while main runs stay until it returns."""
    seen: list[str] = []
    real = ims.request_token

    def flooding(*args: Any, **kwargs: Any) -> Any:
        grant = real(*args, **kwargs)
        for index in range(KnownSecrets.MAX_ENTRIES * 2):
            known_secrets.add(f"flood-{index:04d}-value")
        seen.append(known_secrets.mask(f"{grant.value} {adobe.client_secret}"))
        return grant

    monkeypatch.setattr(ims, "request_token", flooding)
    assert main(adobe.params())["statusCode"] == 200
    assert seen == [f"{HIDDEN} {HIDDEN}"]


def test_many_rejected_secrets_leave_bounded_structures(adobe: AdobeEmulator) -> None:
    for index in range(300):
        params = {**adobe.params(), "OAUTHS2S_CLIENT_SECRET": f"wrong-secret-{index:04d}-0000",
                  "extra": "x" * 10_000}
        assert main(params)["error"]["statusCode"] == 502
    sizes = ims.token_cache.sizes()
    assert sizes["rejections"] == ims.token_cache.max_rejections
    assert sizes["key locks"] == 0
    assert len(known_secrets) <= KnownSecrets.MAX_ENTRIES
