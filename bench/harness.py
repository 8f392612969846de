"""What every measurement shares: its options, the emulator the action talks to, and errors."""

from __future__ import annotations

import contextlib
import io
import pathlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tools.local.runner import patched_environ
from tools.sandbox import AdobeEmulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTTP_TIMEOUT = 10.0  # seconds; the bench's own requests (floor, naive way)


class BenchError(Exception):
    """A measurement could not be taken (a call failed, a child process died); exit 1."""


@dataclass(frozen=True)
class Options:
    calls: int = 200  # warm calls per way, per repetition
    repeat: int = 7
    processes: int = 20  # cold start: fresh processes per kind
    invocations: int = 1000  # IMS load: warm invocations per thread count
    threads: tuple[int, ...] = (1, 16)
    latencies_ms: tuple[float, ...] = (0.0, 10.0)
    root: pathlib.Path = ROOT
    memory_calls: int = 1000  # memory: warm calls per process


QUICK = Options(calls=20, repeat=3, processes=3, invocations=100, memory_calls=100)


@contextlib.contextmanager
def sandbox(latency: float = 0.0) -> Iterator[AdobeEmulator]:
    """A running emulator, with the action's endpoint variables pointing at it until exit.

    An ``__OW_DEADLINE`` is set too, an hour ahead, as a container always has one:
    the deadline's bookkeeping (timeouts, the body watchdog) is part of what is timed.
    """
    deadline_ms = str(int((time.time() + 3600) * 1000))
    with AdobeEmulator(latency=latency) as emulator, \
            patched_environ({**emulator.env(), "__OW_DEADLINE": deadline_ms}):
        yield emulator


@contextlib.contextmanager
def quiet_action_log() -> Iterator[None]:
    """Keep the action's JSON log lines (it logs to whatever sys.stderr is) out of the table."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def expect_success(result: Mapping[str, Any], what: str) -> None:
    """A call that failed fast must never be timed as a success: every figure would lie."""
    if result.get("statusCode") != 200:
        error = result.get("error") or {}
        raise BenchError(f"{what}: the action answered {error.get('statusCode')} instead of 200: "
                         f"{error.get('body')}")
