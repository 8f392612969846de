"""``python -m bench.faults``: every fault of the hardening suite against the sandbox, as tables.

Each scenario scripts the emulator (tools/sandbox/) to fail one way, or hands
the action a hostile or careless request, invokes the action once under a
short ``__OW_DEADLINE`` and then once more normally, and records what came
back: the status against the documented one, the time against the deadline,
the requests IMS and AEM saw, whether the token cache was right for the next
call, whether any secret showed up in the response, a log record at debug or
printed output, and how much was logged. tests/test_faults.py runs the same
SCENARIOS, so the table and the tests cannot disagree.

Two more tables take what does not fit that shape: endpoint URLs refused at
configuration (ENDPOINT_CASES: the host checked must be the host dialed), and
the memory of a fresh process after thousands of distinct rejected secrets
and of distinct valid identities (memory_figures).

The modules: scenarios (the faults and their documented answers), run (one
scenario run and what it observed), capture (logs and output kept for the
leak check), endpoints, memory, output (markdown and JSON) and cli.
"""

from bench.faults.cli import main, parser
from bench.faults.endpoints import (
    ENDPOINT_CASES,
    EndpointCase,
    EndpointObservation,
    endpoint_table,
    run_endpoint_case,
)
from bench.faults.memory import (
    MEMORY_GROWTH_MB,
    MEMORY_IDENTITIES,
    MemoryFigures,
    memory_figures,
    memory_table,
)
from bench.faults.output import markdown, to_json
from bench.faults.run import Invocation, Observation, invocation_params, invoke, run_scenario, table
from bench.faults.scenarios import (
    CALLER_TOKEN,
    DEADLINE_SECONDS,
    LOG_BUDGET,
    SCENARIOS,
    Deployment,
    NextCall,
    Scenario,
)

__all__ = [
    "CALLER_TOKEN",
    "DEADLINE_SECONDS",
    "ENDPOINT_CASES",
    "LOG_BUDGET",
    "MEMORY_GROWTH_MB",
    "MEMORY_IDENTITIES",
    "SCENARIOS",
    "Deployment",
    "EndpointCase",
    "EndpointObservation",
    "Invocation",
    "MemoryFigures",
    "NextCall",
    "Observation",
    "Scenario",
    "endpoint_table",
    "invocation_params",
    "invoke",
    "main",
    "markdown",
    "memory_figures",
    "memory_table",
    "parser",
    "run_endpoint_case",
    "run_scenario",
    "table",
    "to_json",
]
