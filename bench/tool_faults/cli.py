"""``python -m bench.tool_faults``: the table alone (``python -m bench.faults`` ends with it)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from bench.tool_faults.common import QUICK_IDLE_TIMEOUT
from bench.tool_faults.table import markdown, run_all, to_json
from tools.local import server as local_server


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.tool_faults",
        description="Throw hostile files and peers at the developer tools (YAML alias bombs, "
                    "oversized manifests and .env files, render --output over links, secrets "
                    "under plain keys; idle, half-open, bursty and ambiguous clients of the "
                    "local web-action server) and print, per scenario, the documented outcome, "
                    "the observed one and the time it took.",
        epilog="Exit status 0 when every scenario behaves as documented, 1 otherwise. Nothing "
               "leaves 127.0.0.1; every temporary folder and server is removed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--quick", action="store_true",
                   help=f"set the web server's idle timeout to {QUICK_IDLE_TIMEOUT:g} s instead "
                        f"of its {local_server.IDLE_TIMEOUT_SECONDS} s (the run takes seconds, "
                        "not half a minute)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.perf_counter()
    results = run_all(args.quick)
    seconds = time.perf_counter() - started
    print(to_json(results) if args.json else markdown(results, seconds), end="")
    return 0 if all(r.as_documented for r in results) else 1
