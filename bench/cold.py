"""Cold start: fresh interpreters importing the action, beside ``requests`` alone.

Each figure comes from a new process, timed from spawn to exit, with its CPU
time and peak RSS from the kernel's accounting of that one child
(``os.wait4`` in bench/launch.py), so the command measured is exactly the one
shown. Also measured: the action imported from its unzipped zip as a new
OpenWhisk container imports it, with the bytecode the zip carries and without
it (compiling every module on the way, as containers did before the zip
carried any); its first invocation in a fresh process; and, from
``-X importtime``, the modules the action imports beyond those of
``requests``, which is where any difference comes from.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.artefact import ACTION_MODULE, action_zip, unzip
from bench.harness import BenchError, Options, sandbox
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread

IMPORT_ACTION = f"from {ACTION_MODULE} import main"
IMPORT_REQUESTS = "import requests"
MAX_ACTION_OVER_REQUESTS = 1.10
MAX_BYTECODE_OVER_SOURCES = 0.95  # importing the zip with its pycs / without them
TOP_MODULES = 8
LAUNCHER = pathlib.Path(__file__).with_name("launch.py")


@dataclass(frozen=True)
class Child:
    seconds: float  # wall, spawn to exit
    cpu_seconds: float  # user + system: steadier than wall on a busy machine
    max_rss_kb: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class Start:
    """One kind of fresh process, run once per repetition."""

    name: str
    code: str
    # Run in the unzipped action zip: "sources" without its pycs (every module compiled
    # on the way), "bytecode" with them; None: in the repository.
    from_zip: str | None = None


INTERPRETER = Start("interpreter alone", "pass")
REQUESTS = Start("requests alone", IMPORT_REQUESTS)
ACTION = Start("the action", IMPORT_ACTION)
ACTION_FROM_ZIP = Start("the action, from its zip, no bytecode", IMPORT_ACTION, "sources")
ACTION_FROM_ZIP_PYC = Start("the action, from its zip, with its bytecode", IMPORT_ACTION,
                            "bytecode")
STARTS = (INTERPRETER, REQUESTS, ACTION, ACTION_FROM_ZIP, ACTION_FROM_ZIP_PYC)


@dataclass(frozen=True)
class StartFigures:
    name: str
    command: str
    seconds: Spread
    cpu_seconds: Spread
    max_rss_kb: Spread


@dataclass(frozen=True)
class FirstCallFigures:
    latency_ms: float
    import_seconds: Spread  # inside the child
    call_seconds: Spread
    process_seconds: Spread
    max_rss_kb: Spread


@dataclass(frozen=True)
class ImportCost:
    module: str
    self_seconds: float  # median over the runs


@dataclass(frozen=True)
class ColdFigures:
    processes: int
    starts: tuple[StartFigures, ...]
    action_over_requests: Spread  # process wall time, paired by repetition
    action_over_requests_cpu: Spread  # the same for CPU time
    # From the zip, with its bytecode / without: wall and CPU, paired by repetition.
    # None when the zip holds no bytecode (this Python is not the kind's: bytecode_note).
    bytecode_over_sources: Spread | None
    bytecode_over_sources_cpu: Spread | None
    bytecode_note: str
    first_calls: tuple[FirstCallFigures, ...]
    extra_modules: tuple[str, ...]  # imported by the action and not by requests
    extra_self_seconds: Spread  # their summed self time per run
    top_extra: tuple[ImportCost, ...]


def spawn(argv: Sequence[str], cwd: pathlib.Path, env: Mapping[str, str],
          stdin: bytes = b"") -> Child:
    """Run a child to its end through bench/launch.py; BenchError with its stderr when it fails."""
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as report:
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(LAUNCHER), str(write_end), *argv],
                cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, pass_fds=(write_end,))
        finally:
            os.close(write_end)  # the launcher holds its own copy
        out, err = process.communicate(stdin)
        figures = report.read().decode()
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip()[-2000:]
        command = shlex.join(["python", *argv[1:]])
        raise BenchError(f"{command} exited with {process.returncode}:\n{tail}")
    seconds, cpu_seconds, max_rss_kb = figures.split()
    return Child(float(seconds), float(cpu_seconds), int(max_rss_kb), out, err)


def run(options: Options) -> Section:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    generic = action_zip(options.root)
    kinds = STARTS if generic.bytecode else tuple(k for k in STARTS if k is not ACTION_FROM_ZIP_PYC)
    children = fresh_processes(options, env, kinds)
    starts = tuple(
        StartFigures(kind.name, f"python -c '{kind.code}'",
                     Spread.of([c.seconds for c in children[kind]]),
                     Spread.of([c.cpu_seconds for c in children[kind]]),
                     Spread.of([c.max_rss_kb for c in children[kind]]))
        for kind in kinds
    )
    wall, cpu = _paired(children[ACTION], children[REQUESTS])
    with_pyc = (_paired(children[ACTION_FROM_ZIP_PYC], children[ACTION_FROM_ZIP])
                if generic.bytecode else (None, None))
    first_calls = tuple(first_call(options, latency) for latency in options.latencies_ms)
    extra, extra_seconds, top = import_difference(options, env)
    return section(ColdFigures(options.processes, starts, wall, cpu, *with_pyc, generic.note,
                               first_calls, extra, extra_seconds, top))


def _paired(children: Sequence[Child], baseline: Sequence[Child]) -> tuple[Spread, Spread]:
    """Wall and CPU time over the baseline's, run by run (the runs were interleaved)."""
    pairs = list(zip(children, baseline, strict=True))
    return (Spread.of([child.seconds / base.seconds for child, base in pairs]),
            Spread.of([child.cpu_seconds / base.cpu_seconds for child, base in pairs]))


def fresh_processes(options: Options, env: Mapping[str, str],
                    kinds: Sequence[Start] = STARTS) -> dict[Start, list[Child]]:
    """Each kind of start ``options.processes`` times, interleaved so noise falls on all alike.

    The zip is unpacked twice, with and without its pycs, and imported with
    ``PYTHONDONTWRITEBYTECODE``: no run leaves bytecode behind for the next.
    """
    generic = action_zip(options.root)
    with tempfile.TemporaryDirectory(prefix="bench-zip-") as unzipped:
        folder = pathlib.Path(unzipped)
        zip_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        places = {None: (options.root, env),
                  "sources": (unzip(generic, folder / "sources", bytecode=False), zip_env),
                  "bytecode": (unzip(generic, folder / "bytecode"), zip_env)}

        def start(kind: Start) -> Child:
            cwd, child_env = places[kind.from_zip]
            return spawn([sys.executable, "-c", kind.code], cwd, child_env)

        for kind in kinds:
            start(kind)  # warm-up: the repository's bytecode written, files in the page cache
        children: dict[Start, list[Child]] = defaultdict(list)
        for repetition in range(options.processes):
            shift = repetition % len(kinds)
            for kind in (*kinds[shift:], *kinds[:shift]):
                children[kind].append(start(kind))
    return children


def first_call(options: Options, latency_ms: float) -> FirstCallFigures:
    """A fresh process imports the action and invokes it once: an empty cache, no connection."""
    runs = []
    with sandbox(latency_ms / 1000) as emulator:
        params = json.dumps(emulator.params()).encode()
        argv = [sys.executable, "-m", "bench.first_call"]
        for _ in range(options.processes):
            child = spawn(argv, options.root, dict(os.environ), params)
            report = json.loads(child.stdout)
            if report["status"] != 200:
                raise BenchError(f"first call: the action answered {report['status']}")
            runs.append((report, child))
    return FirstCallFigures(
        latency_ms,
        Spread.of([r["import_seconds"] for r, _ in runs]),
        Spread.of([r["call_seconds"] for r, _ in runs]),
        Spread.of([c.seconds for _, c in runs]),
        Spread.of([c.max_rss_kb for _, c in runs]),
    )


def import_difference(options: Options, env: Mapping[str, str],
                      ) -> tuple[tuple[str, ...], Spread, tuple[ImportCost, ...]]:
    """The modules the action imports beyond ``requests``, and their self time (-X importtime)."""
    totals, per_module = [], defaultdict(list)
    modules: set[str] = set()
    for _ in range(options.processes):
        action = _import_times(options.root, env, IMPORT_ACTION)
        baseline = _import_times(options.root, env, IMPORT_REQUESTS)
        extra = {m: s for m, s in action.items() if m not in baseline}
        modules.update(extra)
        totals.append(sum(extra.values()))
        for module, seconds in extra.items():
            per_module[module].append(seconds)
    costs = sorted((ImportCost(m, statistics.median(s)) for m, s in per_module.items()),
                   key=lambda c: c.self_seconds, reverse=True)
    return tuple(sorted(modules)), Spread.of(totals), tuple(costs[:TOP_MODULES])


def _import_times(root: pathlib.Path, env: Mapping[str, str], code: str) -> dict[str, float]:
    """Module -> self import time in seconds, parsed from ``-X importtime``'s stderr."""
    child = spawn([sys.executable, "-X", "importtime", "-c", code], root, env)
    times = {}
    for line in child.stderr.decode().splitlines():
        head, _, rest = line.partition(":")
        fields = rest.split("|")
        if head != "import time" or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        times[fields[2].strip()] = int(fields[0]) / 1e6
    return times


def section(figures: ColdFigures) -> Section:
    starts = Table(
        title=f"Fresh interpreters, {figures.processes} runs each",
        columns=("process", "command", "wall ms", "CPU ms", "peak RSS MB"),
        rows=tuple((s.name, f"`{s.command}`", spread_text(s.seconds, 1000),
                    spread_text(s.cpu_seconds, 1000), spread_text(s.max_rss_kb, 1 / 1024, 1))
                   for s in figures.starts),
        notes=(f"the action / requests alone, paired runs: wall "
               f"{spread_text(figures.action_over_requests)}, CPU "
               f"{spread_text(figures.action_over_requests_cpu)}",
               *((f"the action from its zip, with its bytecode / without, paired runs: wall "
                  f"{spread_text(figures.bytecode_over_sources)}, CPU "
                  f"{spread_text(figures.bytecode_over_sources_cpu)}",)
                 if figures.bytecode_over_sources and figures.bytecode_over_sources_cpu
                 else (figures.bytecode_note,))),
    )
    calls = Table(
        title="First invocation in a fresh process (empty token cache, no open connection)",
        columns=("latency", "import ms", "first call ms", "process wall ms", "peak RSS MB"),
        rows=tuple((f"{f.latency_ms:g} ms", spread_text(f.import_seconds, 1000),
                    spread_text(f.call_seconds, 1000), spread_text(f.process_seconds, 1000),
                    spread_text(f.max_rss_kb, 1 / 1024, 1)) for f in figures.first_calls),
    )
    extra = Table(
        title=(f"Imported by the action beyond requests: {len(figures.extra_modules)} modules, "
               f"{spread_text(figures.extra_self_seconds, 1000)} ms self time in all "
               "(`-X importtime`)"),
        columns=("module", "self ms"),
        rows=tuple((c.module, f"{c.self_seconds * 1000:.2f}") for c in figures.top_extra),
    )
    ratio = figures.action_over_requests
    goal = Goal(f"importing the action ≤ {MAX_ACTION_OVER_REQUESTS:.2f} x importing requests",
                spread_text(ratio), ratio.median <= MAX_ACTION_OVER_REQUESTS)
    return Section("cold", "Cold start", (starts, calls, extra), (goal, _bytecode_goal(figures)),
                   figures)


def _bytecode_goal(figures: ColdFigures) -> Goal:
    name = (f"importing the action from its zip with its bytecode ≤ "
            f"{MAX_BYTECODE_OVER_SOURCES:.2f} x without")
    ratio = figures.bytecode_over_sources
    if ratio is None or figures.bytecode_over_sources_cpu is None:
        return Goal(name, figures.bytecode_note or "the zip holds no bytecode", None)
    return Goal(name, f"wall {spread_text(ratio)}, CPU "
                      f"{spread_text(figures.bytecode_over_sources_cpu)}",
                ratio.median <= MAX_BYTECODE_OVER_SOURCES)
