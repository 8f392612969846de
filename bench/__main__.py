"""``python -m bench``: every performance measurement in one run, as a markdown table or JSON.

A measurement is a module with ``run(options) -> Section``; adding one to
MEASUREMENTS is all it takes to put it in the run, the table and the JSON.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence

from bench import artefact, cold, fleet, ims_load, memory, warm
from bench.harness import QUICK, BenchError, Options
from bench.report import RunInfo, Section, markdown, to_json

MEASUREMENTS: dict[str, Callable[[Options], Section]] = {
    "warm": warm.run,
    "ims_load": ims_load.run,
    "cold": cold.run,
    "fleet": fleet.run,
    "memory": memory.run,
    "artefact": artefact.run,
}
DEFAULTS = Options()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def number_list(convert: Callable[[str], float | int]) -> Callable[[str], tuple]:
    def parse(text: str) -> tuple:
        try:
            values = tuple(convert(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}") from None
        if any(value < 0 for value in values):
            raise argparse.ArgumentTypeError(f"values must not be negative: {text!r}")
        return values
    return parse


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown measurement(s) {', '.join(unknown) or text!r}; "
            f"choose from {', '.join(MEASUREMENTS)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the action against the sandbox emulator on loopback: warm calls "
                    "beside the floor and the naive way, load on IMS, cold start, the fleet of "
                    "cold containers with and without the shared token store, memory and cost, "
                    "the zip.",
        epilog="Figures are medians over the repetitions with [min..max]. Nothing leaves "
               "127.0.0.1; no credentials are needed.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--quick", action="store_true",
                   help=f"small sizes for a smoke run (-n {QUICK.calls} -r {QUICK.repeat} "
                        f"--invocations {QUICK.invocations} --processes {QUICK.processes} "
                        f"--memory-calls {QUICK.memory_calls})")
    p.add_argument("-n", "--calls", type=positive_int,
                   help=f"warm calls per way and repetition (default {DEFAULTS.calls})")
    p.add_argument("-r", "--repeat", type=positive_int,
                   help=f"repetitions of the warm and build measurements "
                        f"(default {DEFAULTS.repeat})")
    p.add_argument("--processes", type=positive_int,
                   help=f"fresh processes per kind for the cold start (default "
                        f"{DEFAULTS.processes})")
    p.add_argument("--invocations", type=positive_int,
                   help=f"IMS load: invocations per thread count (default "
                        f"{DEFAULTS.invocations})")
    p.add_argument("--memory-calls", type=positive_int,
                   help=f"memory: warm calls per process (default {DEFAULTS.memory_calls})")
    p.add_argument("--threads", type=number_list(positive_int),
                   help="IMS load: thread counts, comma-separated (default "
                        f"{','.join(map(str, DEFAULTS.threads))})")
    p.add_argument("--latencies", type=number_list(float), metavar="MS",
                   help="injected latencies in ms, comma-separated (default "
                        f"{','.join(f'{x:g}' for x in DEFAULTS.latencies_ms)})")
    p.add_argument("--only", type=name_list, default=tuple(MEASUREMENTS),
                   help=f"measurements to run, comma-separated: {', '.join(MEASUREMENTS)} "
                        "(default all)")
    return p


def options_from(args: argparse.Namespace) -> Options:
    base = QUICK if args.quick else DEFAULTS
    return Options(
        calls=args.calls or base.calls,
        repeat=args.repeat or base.repeat,
        processes=args.processes or base.processes,
        invocations=args.invocations or base.invocations,
        threads=args.threads or base.threads,
        latencies_ms=args.latencies or base.latencies_ms,
        root=base.root,
        memory_calls=args.memory_calls or base.memory_calls,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    started = time.perf_counter()
    try:
        sections = [MEASUREMENTS[name](options) for name in args.only]
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    info = RunInfo(
        command=shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)]),
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        cpus=os.cpu_count() or 1,
        seconds=time.perf_counter() - started,
    )
    print(to_json(info, sections) if args.json else markdown(info, sections), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
