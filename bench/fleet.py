"""The fleet: many cold OpenWhisk containers, with and without the shared token store.

A Python container serves one activation at a time, so a burst of N requests
is N containers, each a fresh interpreter with an empty token cache. Measured
side by side in one run, against the emulator with 150 ms of IMS latency: the
IMS token requests of N cold containers started in a row and at once, and the
first call of a cold container, without a store and with one (a real
redis-server on loopback, started here with a password).
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from bench.harness import BenchError, Options
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread
from lib._store_env import STORE_URL_VARIABLE
from tools.sandbox import AdobeEmulator, Fault

IMS_LATENCY = 0.150  # seconds, on token requests only
IN_A_ROW = 10
AT_ONCE = 12
MAX_AT_ONCE_WITH_STORE = 2  # IMS requests the issue allows for AT_ONCE containers
MAX_FIRST_CALL_RATIO = 0.25  # the first call with the store / without
CHILD_TIMEOUT = 60.0
KEY, TITLE = "fleet", "The fleet: cold containers and the shared token store"


@dataclass(frozen=True)
class Report:
    """One cold container's only invocation."""

    status: int | None
    import_seconds: float
    call_seconds: float
    log: str  # its stderr: the action's JSON log lines


@dataclass(frozen=True)
class FirstCall:
    """A cold container's import of the action and its first call, in seconds."""

    import_seconds: Spread
    call_seconds: Spread
    total_seconds: Spread


@dataclass(frozen=True)
class FleetFigures:
    ims_latency_ms: float
    # (containers, how) -> IMS token requests without and with the store
    token_requests: tuple[tuple[int, str, int, int], ...]
    without: FirstCall
    with_store: FirstCall
    first_call_ratio: Spread  # with / without, paired by repetition
    total_ratio: Spread  # the same for import + first call


def container_env(emulator: AdobeEmulator, store_url: str | None = None) -> dict[str, str]:
    """What a cold container's environment holds: the endpoints, a deadline, the store."""
    env = {k: v for k, v in os.environ.items() if k != STORE_URL_VARIABLE}
    env.update(emulator.env())
    env["__OW_DEADLINE"] = str(int((time.time() + 600) * 1000))
    if store_url:
        env[STORE_URL_VARIABLE] = store_url
    return env


def cold_containers(count: int, env: Mapping[str, str], params: Mapping[str, object], *,
                    at_once: bool, root: pathlib.Path | None = None) -> list[Report]:
    """``count`` fresh interpreters, each invoking the action once: one after the other, or
    all invoked together once every one of them has imported it."""
    cwd = root or pathlib.Path(__file__).resolve().parents[1]
    line = (json.dumps(params) + "\n").encode()
    if not at_once:
        return [_finish(process, line) for process in
                (_ready(_spawn(cwd, env)) for _ in range(count))]
    processes = [_spawn(cwd, env) for _ in range(count)]
    try:
        for process in processes:
            _ready(process)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(line)
            process.stdin.flush()
        return [_finish(process, b"") for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _spawn(cwd: pathlib.Path, env: Mapping[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.container"], cwd=cwd, env=dict(env),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _ready(process: subprocess.Popen) -> subprocess.Popen:
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        _, err = process.communicate(timeout=CHILD_TIMEOUT)
        raise BenchError(f"a cold container failed to import the action:\n{err.decode()[-2000:]}")
    return process


def _finish(process: subprocess.Popen, line: bytes) -> Report:
    out, err = process.communicate(line or None, timeout=CHILD_TIMEOUT)
    if process.returncode != 0:
        raise BenchError(f"a cold container exited with {process.returncode}:\n"
                         f"{err.decode()[-2000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    return Report(report["status"], report["import_seconds"], report["call_seconds"],
                  err.decode())


INSTALL_HINT = ("redis-server is not installed: on Debian or Ubuntu run "
                "`sudo apt-get install -y redis-server` (macOS: `brew install redis`); "
                "bash .ci/run installs it when missing")


@contextmanager
def redis_store(executable: str | None = None) -> Iterator[str]:
    """A redis-server on a free loopback port with a random password, persistence off; its
    URL. The tests' server too (tests/redis_support.py)."""
    executable = executable or shutil.which("redis-server")
    if executable is None:
        raise BenchError(INSTALL_HINT)
    password = secrets.token_urlsafe(24)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="redis-") as folder:
        config = pathlib.Path(folder) / "redis.conf"
        config.touch(0o600)  # it holds the password
        config.write_text(f"bind 127.0.0.1\nport {port}\nrequirepass {password}\n"
                          f"dir {folder}\nsave \"\"\nappendonly no\nloglevel warning\n")
        process = subprocess.Popen([executable, str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port, process)
            yield f"redis://:{password}@127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen) -> None:
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise BenchError("redis-server did not start")


def flush(store_url: str) -> None:
    """Empty the store: each measurement starts from a fleet that holds no token."""
    import redis

    with redis.Redis.from_url(store_url) as client:
        client.flushdb()


def ims_requests(emulator: AdobeEmulator, count: int, env: Mapping[str, str],
                 at_once: bool) -> int:
    """IMS token requests of ``count`` cold containers, each answered after IMS_LATENCY."""
    emulator.reset()
    emulator.queue("ims", *[Fault(delay=IMS_LATENCY)] * count)
    reports = cold_containers(count, env, emulator.params(), at_once=at_once)
    failed = [r.status for r in reports if r.status != 200]
    if failed:
        raise BenchError(f"fleet: cold containers answered {failed}")
    return emulator.token_requests


def run(options: Options) -> Section:
    if shutil.which("redis-server") is None:  # the rest of the run goes on; the goals say why
        return Section(KEY, TITLE, (), tuple(Goal(name, INSTALL_HINT, None) for name in (
            f"{IN_A_ROW} cold containers in a row ask IMS once with the store",
            f"{AT_ONCE} cold containers at once ask IMS ≤ {MAX_AT_ONCE_WITH_STORE} times with "
            "the store", f"first call with the store < {MAX_FIRST_CALL_RATIO:g} x without")),
            None)
    with AdobeEmulator() as emulator, redis_store() as store_url:
        without, with_store = container_env(emulator), container_env(emulator, store_url)
        counts = []
        for count, at_once in ((IN_A_ROW, False), (AT_ONCE, True)):
            alone = ims_requests(emulator, count, without, at_once)
            flush(store_url)
            shared = ims_requests(emulator, count, with_store, at_once)
            counts.append((count, "at once" if at_once else "in a row", alone, shared))
        # The first call: without a store it mints; with one, another container already has.
        plain, stored = [], []
        for _ in range(options.processes):
            emulator.queue("ims", *[Fault(delay=IMS_LATENCY)] * 2)
            [first] = cold_containers(1, without, emulator.params(), at_once=False)
            [second] = cold_containers(1, with_store, emulator.params(), at_once=False)
            emulator.reset()
            if (first.status, second.status) != (200, 200):
                raise BenchError(f"fleet: first calls answered {first.status}, {second.status}")
            plain.append(first)
            stored.append(second)
    return section(FleetFigures(
        IMS_LATENCY * 1000, tuple(counts), _first_call(plain), _first_call(stored),
        _ratio(stored, plain, lambda r: r.call_seconds),
        _ratio(stored, plain, lambda r: r.import_seconds + r.call_seconds)))


def _first_call(reports: list[Report]) -> FirstCall:
    return FirstCall(Spread.of([r.import_seconds for r in reports]),
                     Spread.of([r.call_seconds for r in reports]),
                     Spread.of([r.import_seconds + r.call_seconds for r in reports]))


def _ratio(runs: list[Report], baseline: list[Report],
           seconds: Callable[[Report], float]) -> Spread:
    return Spread.of([seconds(r) / seconds(b) for r, b in zip(runs, baseline, strict=True)])


def section(figures: FleetFigures) -> Section:
    requests = Table(
        title=(f"IMS token requests of cold containers (fresh interpreters), "
               f"{figures.ims_latency_ms:g} ms IMS latency"),
        columns=("containers", "started", "without the store", "with the store"),
        rows=tuple((str(n), how, str(alone), str(shared))
                   for n, how, alone, shared in figures.token_requests),
    )
    first = Table(
        title=(f"A cold container, {figures.ims_latency_ms:g} ms IMS latency (with the store, "
               "another container has already shared the token)"),
        columns=("store", "import ms", "first call ms", "import + first call ms"),
        rows=tuple((name, spread_text(f.import_seconds, 1000), spread_text(f.call_seconds, 1000),
                    spread_text(f.total_seconds, 1000))
                   for name, f in (("without", figures.without), ("with", figures.with_store))),
        notes=(f"with / without, paired runs: first call {spread_text(figures.first_call_ratio)}, "
               f"import + first call {spread_text(figures.total_ratio)}; with the store, "
               "redis-py and cryptography are imported with the action (OpenWhisk's /init), "
               "not inside the first call",),
    )
    goals = [Goal(f"{n} cold containers {how} ask IMS "
                  f"{'once' if how == 'in a row' else f'≤ {MAX_AT_ONCE_WITH_STORE} times'} "
                  "with the store", f"{shared} (without: {alone})",
                  shared <= (1 if how == "in a row" else MAX_AT_ONCE_WITH_STORE))
             for n, how, alone, shared in figures.token_requests]
    ratio = figures.first_call_ratio
    goals.append(Goal(f"first call with the store < {MAX_FIRST_CALL_RATIO:g} x without",
                      spread_text(ratio), ratio.median < MAX_FIRST_CALL_RATIO))
    return Section(KEY, TITLE, (requests, first), tuple(goals), figures)
