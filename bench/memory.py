"""Memory and cost: the action process's peak RSS over warm calls, the limit it needs, GB-s.

OpenWhisk bills memory x time, and a Python container serves one activation at
a time, so the memory limit is paid on every call. Each run is a fresh
process that loads the action from its unpacked zip the way the runtime does
(the root ``__main__.py`` renamed ``main__.py``, the zip root on ``sys.path``,
an environment of ``__OW_*`` variables and the endpoints only), makes one
cold call, then ``memory_calls`` warm calls against the emulator, which runs
in this process so that none of its memory counts. The peak RSS comes from
the kernel's accounting of that child (``os.wait4`` in bench/launch.py).

The limit the manifest should set is the smallest OpenWhisk allows that
leaves at least HEADROOM x the highest peak seen. The cost is in GB-seconds
per million warm invocations: the limit in GB x the mean duration of the
measured warm calls x 10^6, at that limit and at OpenWhisk's default.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import tempfile
import time
from dataclasses import dataclass

from bench.artefact import ACTION_MODULE, action_zip, manifest, unzip
from bench.cold import spawn
from bench.harness import BenchError, Options, sandbox
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread
from tools.manifest.model import LIMIT_RANGES

LATENCY_MS = 10.0  # as the warm goal: a stand-in for the network to Adobe
PROCESSES = 3
HEADROOM = 2.0
DEFAULT_MEMORY_MB = 256  # what OpenWhisk gives an action that sets no limit
LOWEST_MEMORY_MB, HIGHEST_MEMORY_MB, _ = LIMIT_RANGES["memory"]

# Run by the child, in the unpacked zip: params on stdin, figures as JSON on stdout.
_WARM_CALLS = """
import json, os, sys, time
sys.path.insert(0, os.getcwd())

def rss_kb(field="VmRSS"):
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return None

calls = int(sys.argv[1])
params = json.load(sys.stdin)
import main__
main = getattr(main__, "main")
imported = rss_kb()
if main(params).get("statusCode") != 200:
    sys.exit("the first call failed")
first = rss_kb()
seconds = []
for _ in range(calls):
    start = time.perf_counter()
    status = main(params).get("statusCode")
    seconds.append(time.perf_counter() - start)
    if status != 200:
        sys.exit(f"a warm call answered {status}")
json.dump({"imported_kb": imported, "first_call_kb": first, "end_kb": rss_kb(),
           "peak_kb": rss_kb("VmHWM"), "mean_seconds": sum(seconds) / len(seconds)}, sys.stdout)
"""


@dataclass(frozen=True)
class MemoryFigures:
    calls: int  # warm calls per process, after one cold call
    processes: int
    latency_ms: float
    bytecode: bool  # the zip the child loaded carried its pycs
    peak_rss_kb: Spread  # the whole process's peak, from the kernel
    rss_after_import_kb: Spread | None  # VmRSS inside the child (None off Linux)
    rss_after_first_call_kb: Spread | None
    rss_at_end_kb: Spread | None
    mean_call_seconds: Spread  # the warm calls' mean duration, per process
    manifest_memory_mb: int | None  # the action's limits.memory in manifest.yaml
    needed_memory_mb: int  # the smallest allowed limit with HEADROOM x the highest peak
    gb_seconds_per_million: Spread  # at the limit deployed (the manifest's, else the default)
    gb_seconds_per_million_default: Spread  # at DEFAULT_MEMORY_MB

    @property
    def deployed_memory_mb(self) -> int:
        return self.manifest_memory_mb or DEFAULT_MEMORY_MB


def needed_memory_mb(peak_kb: float, headroom: float = HEADROOM) -> int:
    """The smallest limit OpenWhisk allows that is at least ``headroom`` x the peak."""
    needed = max(LOWEST_MEMORY_MB, math.ceil(peak_kb * headroom / 1024))
    if needed > HIGHEST_MEMORY_MB:
        raise BenchError(f"a peak RSS of {peak_kb / 1024:.1f} MB needs {needed} MB with "
                         f"{headroom:g}x headroom, over OpenWhisk's {HIGHEST_MEMORY_MB} MB")
    return needed


def gb_seconds_per_million(memory_mb: int, mean_seconds: Spread) -> Spread:
    return mean_seconds.scaled(memory_mb / 1024 * 1e6)


def run(options: Options) -> Section:
    generic = action_zip(options.root)
    action = next(a for a in manifest(options.root).actions() if a.code.module == ACTION_MODULE)
    reports, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder, \
            sandbox(LATENCY_MS / 1000) as emulator:
        root = unzip(generic, pathlib.Path(folder))
        (root / "__main__.py").rename(root / "main__.py")
        env = {**emulator.env(), **_activation_env(action.qualified_name)}
        params = json.dumps(emulator.params()).encode()
        for _ in range(PROCESSES):
            child = spawn([sys.executable, "-c", _WARM_CALLS, str(options.memory_calls)],
                          root, env, params)
            report = json.loads(child.stdout)
            reports.append(report)
            # The kernel's figure for the whole process; the child's own high-water mark,
            # read just before it exits, where that is higher.
            peaks.append(max(child.max_rss_kb, report.get("peak_kb") or 0))
    mean_seconds = Spread.of([r["mean_seconds"] for r in reports])
    figures = MemoryFigures(
        calls=options.memory_calls, processes=PROCESSES, latency_ms=LATENCY_MS,
        bytecode=generic.bytecode, peak_rss_kb=Spread.of(peaks),
        rss_after_import_kb=_spread(reports, "imported_kb"),
        rss_after_first_call_kb=_spread(reports, "first_call_kb"),
        rss_at_end_kb=_spread(reports, "end_kb"),
        mean_call_seconds=mean_seconds,
        manifest_memory_mb=action.limits.memory,
        needed_memory_mb=needed_memory_mb(max(peaks)),
        gb_seconds_per_million=gb_seconds_per_million(
            action.limits.memory or DEFAULT_MEMORY_MB, mean_seconds),
        gb_seconds_per_million_default=gb_seconds_per_million(DEFAULT_MEMORY_MB, mean_seconds),
    )
    return section(figures)


def _activation_env(action_name: str) -> dict[str, str]:
    """The ``__OW_*`` variables of one activation, its deadline an hour ahead."""
    namespace = "guest"
    return {"__OW_ACTION_NAME": f"/{namespace}/{action_name}", "__OW_NAMESPACE": namespace,
            "__OW_ACTIVATION_ID": "0" * 32, "__OW_TRANSACTION_ID": "0" * 16,
            "__OW_DEADLINE": str(int((time.time() + 3600) * 1000))}


def _spread(reports: list[dict], key: str) -> Spread | None:
    values = [r[key] for r in reports if r.get(key) is not None]
    return Spread.of(values) if len(values) == len(reports) else None


def _mb(spread: Spread | None) -> str:
    return "n/a" if spread is None else spread_text(spread, 1 / 1024, 1)


def section(figures: MemoryFigures) -> Section:
    rss = Table(
        title=(f"The action process: one cold call then {figures.calls:,} warm calls, "
               f"{figures.latency_ms:g} ms injected latency, {figures.processes} processes"),
        columns=("peak RSS MB", "RSS after import MB", "after the first call MB",
                 "after the last call MB", "mean warm call ms"),
        rows=((_mb(figures.peak_rss_kb), _mb(figures.rss_after_import_kb),
               _mb(figures.rss_after_first_call_kb), _mb(figures.rss_at_end_kb),
               spread_text(figures.mean_call_seconds, 1000)),),
        notes=(f"Loaded from its unpacked zip ({'with' if figures.bytecode else 'without'} "
               "bytecode) as the runtime loads it; the emulator runs in the benchmark's "
               "process, so none of its memory counts.",),
    )
    deployed = figures.deployed_memory_mb
    cost = Table(
        title=("GB-s per million warm invocations: limit in GB x the mean warm call above "
               "x 10^6"),
        columns=("memory limit", "GB-s per 1,000,000 warm calls"),
        rows=((f"{deployed} MB (manifest)" if figures.manifest_memory_mb
               else f"{deployed} MB (default: the manifest sets none)",
               spread_text(figures.gb_seconds_per_million, 1, 0)),
              (f"{DEFAULT_MEMORY_MB} MB (OpenWhisk's default)",
               spread_text(figures.gb_seconds_per_million_default, 1, 0))),
        notes=(f"Smallest limit OpenWhisk allows ({LOWEST_MEMORY_MB}..{HIGHEST_MEMORY_MB} MB) "
               f"with {HEADROOM:g}x the highest peak RSS: {figures.needed_memory_mb} MB.",),
    )
    return Section("memory", "Memory and cost (the action process, warm)", (rss, cost),
                   _goals(figures), figures)


def _goals(figures: MemoryFigures) -> tuple[Goal, Goal]:
    deployed, needed = figures.deployed_memory_mb, figures.needed_memory_mb
    peak_mb = figures.peak_rss_kb.high / 1024
    limit = Goal(
        f"limits.memory is the smallest size allowed with ≥ {HEADROOM:g}x the peak RSS over "
        f"{figures.calls:,} warm calls",
        f"{deployed} MB for a peak of {_mb(figures.peak_rss_kb)} MB "
        f"({deployed / peak_mb:.1f}x the highest); smallest allowed: {needed} MB",
        deployed == needed)
    ours, default = figures.gb_seconds_per_million, figures.gb_seconds_per_million_default
    cost = Goal(
        f"GB-s per million warm invocations at {deployed} MB ≤ half of {DEFAULT_MEMORY_MB} MB's",
        f"{spread_text(ours, 1, 0)} against {spread_text(default, 1, 0)} GB-s",
        deployed * 2 <= DEFAULT_MEMORY_MB)
    return limit, cost
