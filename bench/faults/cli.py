"""``python -m bench.faults``: its options, the run, and the exit status."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from bench.faults.endpoints import ENDPOINT_CASES, run_endpoint_case
from bench.faults.memory import MEMORY_IDENTITIES, memory_figures
from bench.faults.output import markdown, to_json
from bench.faults.run import run_scenario
from bench.faults.scenarios import SCENARIOS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description="Inject every fault of the hardening suite into the sandbox emulator of "
                    "Adobe IMS and AEM and print, per scenario: the documented status, the "
                    "observed one, the time against the activation deadline, the requests IMS "
                    "and AEM saw, what the next call found in the token cache, a "
                    "secret-leak check and what was logged. Then the endpoint URLs refused at "
                    "configuration, and the memory of a fresh process after many distinct "
                    "rejected secrets and valid identities.",
        epilog="Exit status 0 when everything behaves as documented, 1 otherwise. Nothing "
               "leaves 127.0.0.1; no credentials are needed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--quick-tools", action="store_true",
                   help="the tools' faults with a 0.3 s idle timeout instead of the real 15 s")
    p.add_argument("--identities", type=int, default=MEMORY_IDENTITIES, metavar="N",
                   help="distinct rejected secrets, then valid identities, for the memory "
                        f"table (default {MEMORY_IDENTITIES:,}; 0 leaves the table out)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from bench import tool_faults
    from bench.harness import sandbox

    args = parser().parse_args(argv)
    started = time.perf_counter()
    with sandbox() as emulator:
        observations = [run_scenario(emulator, scenario) for scenario in SCENARIOS]
        endpoints = [run_endpoint_case(emulator, case) for case in ENDPOINT_CASES]
    memory = memory_figures(args.identities) if args.identities > 0 else None
    seconds = time.perf_counter() - started
    tools_started = time.perf_counter()
    tools = tool_faults.run_all(quick=args.quick_tools)  # deploy.py and the local server
    tools_seconds = time.perf_counter() - tools_started
    if args.json:
        document = {**json.loads(to_json(observations, endpoints, memory)),
                    "tools": json.loads(tool_faults.to_json(tools))}
        print(json.dumps(document, indent=2))
    else:
        print(markdown(observations, seconds, endpoints, memory), end="")
        print("\n## The tools\n\n" + tool_faults.markdown(tools, tools_seconds), end="")
    failed = (any(o.problems for o in observations) or any(o.problems for o in endpoints)
              or (memory is not None and bool(memory.problems))
              or not all(result.as_documented for result in tools))
    return 1 if failed else 0

