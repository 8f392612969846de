"""The run as a markdown report or as JSON: the scenarios, the endpoint values and the memory
figures."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from collections.abc import Sequence
from typing import Any

from bench.faults.endpoints import EndpointObservation, endpoint_table
from bench.faults.memory import EXTRA_PARAM_CHARS, MEMORY_GROWTH_MB, MemoryFigures, memory_table
from bench.faults.run import Observation, table
from bench.faults.scenarios import DEADLINE_SECONDS, LOG_BUDGET, SLOW


def to_json(observations: Sequence[Observation],
            endpoints: Sequence[EndpointObservation] = (),
            memory: MemoryFigures | None = None) -> str:
    document: dict[str, Any] = {
        "deadline_seconds": DEADLINE_SECONDS,
        "scenarios": [{
            "scenario": o.scenario.name,
            "expected": {"status": o.scenario.status, "retry_after": o.scenario.retry_after,
                         "ims_requests": o.scenario.requests[0],
                         "aem_requests": o.scenario.requests[1],
                         "next_call": o.scenario.next_call.value},
            "observed": {"status": o.first.status, "retry_after": o.first.retry_after,
                         "message": o.first.message, "raised": o.first.raised,
                         "seconds": round(o.first.seconds, 3), "in_time": o.first.in_time,
                         "ims_requests": o.first.ims_requests,
                         "aem_requests": o.first.aem_requests, "next_call": o.next_text,
                         "logged_characters": o.logged},
            "leaks": list(o.leaks),
            "problems": list(o.problems),
        } for o in observations],
    }
    if endpoints:
        document["endpoints"] = [{
            "variable": o.case.variable, "url": o.case.url, "expected": o.case.expected,
            "observed": o.observed, "configuration": o.configuration, "status": o.status,
            "message": o.message, "looked_up": list(o.looked_up), "problems": list(o.problems),
        } for o in endpoints]
    if memory is not None:
        document["memory"] = {**dataclasses.asdict(memory), "growth_mb": memory.growth_mb,
                              "problems": list(memory.problems)}
    return json.dumps(document, indent=2) + "\n"


def markdown(observations: Sequence[Observation], seconds: float,
             endpoints: Sequence[EndpointObservation] = (),
             memory: MemoryFigures | None = None) -> str:
    from bench.report import pipe_table

    failed = [o for o in observations if o.problems]
    lines = [
        f"Command: `python -m bench.faults` — Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count() or 1} CPUs, "
        f"{seconds:.0f} s. Each invocation had __OW_DEADLINE {DEADLINE_SECONDS:.1f} s ahead; "
        "a slow upstream waited "
        f"{SLOW:.0f} s. Leak check: client secret, access tokens, the caller's token and the "
        "caller's guessed secret searched in the responses, every log record at debug and all "
        f"printed output. Logged: what both calls logged at debug (at most {LOG_BUDGET:,} "
        "characters).",
        "",
        *pipe_table(table(observations)),
        "",
        f"{len(observations) - len(failed)} of {len(observations)} scenarios as documented.",
    ]
    lines += [f"- {o.scenario.name}: {problem}" for o in failed for problem in o.problems]
    if endpoints:
        refused = [o for o in endpoints if o.problems]
        lines += [
            "", f"**{endpoint_table(endpoints).title}**", "",
            "Each value is set in the action's environment, judged by `AdobeEndpoints`, then "
            "used for a call whose name lookups off loopback are stopped and recorded (`PORT`: "
            "the emulator's). *urllib3 reads host* is what the HTTP stack would dial.", "",
            *pipe_table(endpoint_table(endpoints)), "",
            f"{len(endpoints) - len(refused)} of {len(endpoints)} endpoint values as "
            "documented."]
        lines += [f"- {o.case.shown()}: {problem}" for o in refused for problem in o.problems]
    if memory is not None:
        lines += [
            "", f"**{memory_table(memory).title}**", "",
            f"A fresh `python` runs the action at debug against the emulator (in the parent): "
            f"one call; then {memory.identities:,} calls, each with a distinct wrong secret and "
            f"a distinct {EXTRA_PARAM_CHARS // 1000} KB extra parameter (IMS answers 401); then "
            f"{memory.identities:,} calls, each as a distinct valid identity (client id and "
            "secret). RSS after `gc.collect()`.", "",
            *pipe_table(memory_table(memory)), "",
            f"Grew by {memory.growth_mb:.1f} MB in all (at most {MEMORY_GROWTH_MB:.0f} MB "
            f"allowed); peak RSS {memory.peak_rss_mb:.1f} MB; {memory.seconds:.0f} s."]
        lines += [f"- {problem}" for problem in memory.problems]
    return "\n".join(lines) + "\n"

