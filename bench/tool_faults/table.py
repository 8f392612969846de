"""The table: every scenario run once, as markdown or JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence

from bench.report import Table, pipe_table
from bench.tool_faults import (
    builds,
    hostile_controller,
    local_loop,
    manifest_files,
    project_files,
    web_server,
)
from bench.tool_faults.common import Observation, Result, Scenario, Settings
from bench.tool_faults.manifest_files import BOMB_ALIASES, BOMB_LEVELS, BOMB_MANIFEST
from tools.local import server as local_server
from tools.manifest.yaml_file import MAX_EXPANDED_NODES

SCENARIOS: tuple[Scenario, ...] = (*manifest_files.SCENARIOS, *web_server.SCENARIOS,
                                   *builds.SCENARIOS, *project_files.SCENARIOS,
                                   *local_loop.SCENARIOS, *hostile_controller.SCENARIOS)


def run_scenario(scenario: Scenario, settings: Settings) -> Result:
    """The scenario thrown once; an exception is an outcome too (never as documented)."""
    started = time.perf_counter()
    try:
        observation = scenario.run(settings)
    except Exception as exc:  # reported in the table, not as a traceback
        observation = Observation(f"raised {type(exc).__name__}: {exc}"[:160],
                                  time.perf_counter() - started)
    if settings.secret in observation.outcome:  # never shown, whatever went wrong
        observation = Observation(observation.outcome.replace(settings.secret, "<hidden>"),
                                  observation.seconds, observation.facts)
    return Result(scenario, observation, settings)


def run_all(quick: bool = False) -> list[Result]:
    """Every scenario once; ``quick`` sets the web server's idle timeout to 0.3 s."""
    settings = Settings.for_run(quick)
    return [run_scenario(scenario, settings) for scenario in SCENARIOS]


def time_text(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(results: Sequence[Result]) -> Table:
    rows = tuple((r.scenario.name, r.scenario.expected, r.observation.outcome,
                  time_text(r.observation.seconds), "ok" if r.as_documented else "NO")
                 for r in results)
    return Table("The developer tools under hostile files and peers",
                 ("Scenario", "Expected", "Observed", "Time", "As documented"), rows)


def _idle_timeout(results: Sequence[Result]) -> float:
    return results[0].settings.idle_timeout if results else local_server.IDLE_TIMEOUT_SECONDS


def markdown(results: Sequence[Result], seconds: float | None = None) -> str:
    documented = sum(r.as_documented for r in results)
    took = f", {seconds:.0f} s" if seconds is not None else ""
    lines = [
        f"Command: `python -m bench.tool_faults` — Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count() or 1} CPUs{took}. "
        "Each scenario runs the real `deploy.main` or `WebActionServer` (on 127.0.0.1) on a "
        "throw-away project. The billion-laughs manifest is the bomb and a one-action manifest "
        f"whose input is its last alias, {len(BOMB_MANIFEST.encode())} bytes in all: "
        f"{BOMB_ALIASES ** BOMB_LEVELS:,} values once expanded, against a cap of "
        f"{MAX_EXPANDED_NODES:,}. The web server's idle timeout: "
        f"{_idle_timeout(results):g} s (the tools' own: {local_server.IDLE_TIMEOUT_SECONDS} s).",
        "",
        *pipe_table(table(results)),
        "",
        f"{documented} of {len(results)} scenarios as documented.",
    ]
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[Result]) -> str:
    return json.dumps({
        "idle_timeout_seconds": _idle_timeout(results),
        "scenarios": [{
            "scenario": r.scenario.name,
            "expected": r.scenario.expected,
            "observed": r.observation.outcome,
            "seconds": round(r.observation.seconds, 4),
            "as_documented": r.as_documented,
            "facts": r.observation.facts,
        } for r in results],
    }, indent=2, ensure_ascii=False) + "\n"
