"""Load on IMS: token requests per 1,000 warm invocations, one thread and many sharing a process.

Adobe throttles integrations that mint too many tokens. Each run starts with
an empty token cache (a cold container), so the first invocation must fetch
one token, and every thread must then share it: with 16 threads racing on the
empty cache, a missing single-flight would show as up to 16 requests.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from actions.generic import main
from bench.harness import Options, expect_success, quiet_action_log, sandbox
from bench.report import Goal, Section, Table
from lib import ims
from tools.sandbox import AdobeEmulator

LATENCY_MS = 10.0  # widens the race: the first token request is in flight for 10 ms
INVOCATIONS_PER_TOKEN = 1000


@dataclass(frozen=True)
class LoadRun:
    threads: int
    invocations: int
    token_requests: int
    connections: int
    seconds: float

    @property
    def allowed_tokens(self) -> int:
        return max(1, math.ceil(self.invocations / INVOCATIONS_PER_TOKEN))


@dataclass(frozen=True)
class LoadFigures:
    latency_ms: float
    runs: tuple[LoadRun, ...]


def run(options: Options) -> Section:
    with sandbox(LATENCY_MS / 1000) as emulator, quiet_action_log():
        figures = LoadFigures(LATENCY_MS, tuple(measure(emulator, threads, options.invocations)
                                                for threads in options.threads))
    return section(figures)


def measure(emulator: AdobeEmulator, threads: int, invocations: int) -> LoadRun:
    """``invocations`` calls of main shared out among ``threads`` that start together."""
    ims.token_cache.clear()
    emulator.reset()
    params = emulator.params()
    start_line = threading.Barrier(threads)
    shares = [invocations // threads + (i < invocations % threads) for i in range(threads)]

    def worker(calls: int) -> None:
        start_line.wait()
        for _ in range(calls):
            expect_success(main(params), f"{threads} threads")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(worker, calls) for calls in shares]
        for future in futures:
            future.result()  # a failed call raises BenchError here
    return LoadRun(threads, invocations, emulator.token_requests, emulator.connections,
                   time.perf_counter() - start)


def section(figures: LoadFigures) -> Section:
    table = Table(
        title=f"From an empty token cache, {figures.latency_ms:g} ms injected latency",
        columns=("threads", "invocations", "IMS token requests", "connections opened",
                 "invocations / s"),
        rows=tuple((str(r.threads), str(r.invocations), str(r.token_requests),
                    str(r.connections), f"{r.invocations / r.seconds:.0f}")
                   for r in figures.runs),
    )
    goals = tuple(
        Goal(f"≤ 1 token request per {INVOCATIONS_PER_TOKEN:,} warm invocations, "
             f"{r.threads} thread{'s' if r.threads > 1 else ''}",
             f"{r.token_requests} in {r.invocations:,}", r.token_requests <= r.allowed_tokens)
        for r in figures.runs
    )
    return Section("ims_load", "Load on IMS", (table,), goals, figures)
