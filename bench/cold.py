"""Cold start: fresh interpreters importing the action, beside ``requests`` alone.

Each figure comes from a new process, timed from spawn to exit, with its CPU
time and peak RSS from the kernel's accounting of that one child
(``os.wait4`` in bench/launch.py), so the command measured is exactly the one
shown. Also measured: the action imported from its unzipped zip with no
bytecode cache, as in a new OpenWhisk container; its first invocation in a
fresh process; and, from ``-X importtime``, the modules the action imports
beyond those of ``requests``, which is where any difference comes from.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.artefact import action_zips
from bench.harness import BenchError, Options, sandbox
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread

ACTION_MODULE = "actions.generic"
IMPORT_ACTION = f"from {ACTION_MODULE} import main"
IMPORT_REQUESTS = "import requests"
MAX_ACTION_OVER_REQUESTS = 1.10
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
    from_zip: bool = False  # run in the unzipped action zip, compiling from source


INTERPRETER = Start("interpreter alone", "pass")
REQUESTS = Start("requests alone", IMPORT_REQUESTS)
ACTION = Start("the action", IMPORT_ACTION)
ACTION_FROM_ZIP = Start("the action, from its zip, no bytecode", IMPORT_ACTION, from_zip=True)
STARTS = (INTERPRETER, REQUESTS, ACTION, ACTION_FROM_ZIP)


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
    children = fresh_processes(options, env)
    starts = tuple(
        StartFigures(kind.name, f"python -c '{kind.code}'",
                     Spread.of([c.seconds for c in children[kind]]),
                     Spread.of([c.cpu_seconds for c in children[kind]]),
                     Spread.of([c.max_rss_kb for c in children[kind]]))
        for kind in STARTS
    )
    pairs = list(zip(children[ACTION], children[REQUESTS], strict=True))
    wall = Spread.of([action.seconds / alone.seconds for action, alone in pairs])
    cpu = Spread.of([action.cpu_seconds / alone.cpu_seconds for action, alone in pairs])
    first_calls = tuple(first_call(options, latency) for latency in options.latencies_ms)
    extra, extra_seconds, top = import_difference(options, env)
    return section(ColdFigures(options.processes, starts, wall, cpu, first_calls, extra,
                               extra_seconds, top))


def fresh_processes(options: Options, env: Mapping[str, str]) -> dict[Start, list[Child]]:
    """Each kind of start ``options.processes`` times, interleaved so noise falls on all alike."""
    generic = next((z for z in action_zips(options.root) if z.action.module == ACTION_MODULE),
                   None)
    if generic is None:
        raise BenchError(f"the manifest has no action in {ACTION_MODULE}")
    with tempfile.TemporaryDirectory(prefix="bench-zip-") as unzipped:
        with zipfile.ZipFile(io.BytesIO(generic.data)) as archive:
            archive.extractall(unzipped)
        places = {False: (options.root, env),
                  True: (pathlib.Path(unzipped), {**env, "PYTHONDONTWRITEBYTECODE": "1"})}

        def start(kind: Start) -> Child:
            cwd, child_env = places[kind.from_zip]
            return spawn([sys.executable, "-c", kind.code], cwd, child_env)

        for kind in STARTS:
            start(kind)  # warm-up: bytecode caches written, files in the page cache
        children: dict[Start, list[Child]] = defaultdict(list)
        for repetition in range(options.processes):
            shift = repetition % len(STARTS)
            for kind in STARTS[shift:] + STARTS[:shift]:
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
               f"{spread_text(figures.action_over_requests_cpu)}",),
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
    return Section("cold", "Cold start", (starts, calls, extra), (goal,), figures)
