"""32 threads x 50 invocations in one process, the token expiring part-way.

A warm OpenWhisk container runs one activation at a time, but the library
makes no such assumption: whatever the interleaving, each expiry must cost
exactly one token request, and no invocation may fail.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from actions.generic import main
from lib import ims
from lib._token_cache import REFRESH_MARGIN
from tests.action_support import FakeClock
from tools.sandbox import AdobeEmulator

THREADS = 32
CALLS = 50
TOTAL = THREADS * CALLS
EXPIRE_AFTER = (TOTAL // 3, 2 * TOTAL // 3)  # completed invocations at which the token dies


def run_all(adobe: AdobeEmulator, expire: Callable[[], None]) -> Counter[int]:
    """Every thread's invocations; ``expire`` is called once as each EXPIRE_AFTER is reached.

    An expiry waits until no running call began before the token it kills had been
    requested: a call that met one dead token and then, starved of the CPU, a
    second one before its retry would answer 502 as documented (401 twice), and
    that is not what this test is about.
    """
    statuses: Counter[int] = Counter()
    running: Counter[int] = Counter()  # token requests IMS had seen when each call began
    pending = list(EXPIRE_AFTER)
    lock = threading.Lock()
    start = threading.Barrier(THREADS)
    params = adobe.params()

    def worker() -> None:
        start.wait()
        for _ in range(CALLS):
            with lock:
                began = adobe.token_requests
                running[began] += 1
            result = main(params)
            status = result.get("statusCode") or result["error"]["statusCode"]
            with lock:
                running[began] -= 1
                statuses[status] += 1
                tokens = 1 + len(EXPIRE_AFTER) - len(pending)
                if pending and statuses.total() >= pending[0] and not any(
                        count for at, count in running.items() if at < tokens):
                    pending.pop(0)
                    expire()

    threads = [threading.Thread(target=worker, name=f"invoker-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert pending == []  # every expiry happened part-way
    return statuses


def bearer_tokens(adobe: AdobeEmulator) -> Counter[str]:
    return Counter(r.headers["authorization"] for r in adobe.requests if r.endpoint == "aem")


def test_aem_rejecting_the_token_part_way_costs_one_token_request_per_expiry(
        adobe: AdobeEmulator) -> None:
    """The token is revoked early: AEM answers 401 to it and every caller holding it retries."""
    statuses = run_all(adobe, adobe.expire_tokens)

    assert statuses == {200: TOTAL}
    assert adobe.token_requests == 1 + len(EXPIRE_AFTER)
    assert len(bearer_tokens(adobe)) == 1 + len(EXPIRE_AFTER)
    assert adobe.aem_requests >= TOTAL  # plus one retry per call that held the revoked token


def test_the_cached_token_reaching_its_end_part_way_costs_one_token_request_per_expiry(
        adobe: AdobeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token's lifetime ends: the cache refreshes it, and IMS's old token dies with it."""
    clock = FakeClock()
    monkeypatch.setattr(ims.token_cache, "clock", clock)

    def end_of_life() -> None:
        clock.advance(adobe.expires_in - REFRESH_MARGIN + 1)
        adobe.expire_tokens()

    statuses = run_all(adobe, end_of_life)

    assert statuses == {200: TOTAL}
    assert adobe.token_requests == 1 + len(EXPIRE_AFTER)
    assert len(bearer_tokens(adobe)) == 1 + len(EXPIRE_AFTER)
