"""``python -m bench.tool_faults``: the developer tools under hostile files and peers, as a table.

Each scenario sets up a throw-away project in a temporary folder (or a local
web-action server on 127.0.0.1), throws one fault at the real tool (the
``deploy.py`` command line through ``deploy.main``, ``python -m tools.local``,
or ``tools.local.server.WebActionServer``) and records what came back and how
long it took. The scenarios live by subject: the manifest's files
(manifest_files), the local web server's peers (web_server), builds and
transport (builds), the project's files as untrusted input (project_files) and
the local loop (local_loop); table runs them, cli prints them.
tests/test_tool_faults.py runs the same SCENARIOS.
"""

from bench.tool_faults.builds import HeaderTrickler
from bench.tool_faults.cli import main
from bench.tool_faults.common import (
    QUICK_IDLE_TIMEOUT,
    Observation,
    Result,
    Scenario,
    Settings,
)
from bench.tool_faults.table import SCENARIOS, markdown, run_all, run_scenario, to_json

__all__ = ["QUICK_IDLE_TIMEOUT", "SCENARIOS", "HeaderTrickler", "Observation", "Result",
           "Scenario", "Settings", "main", "markdown", "run_all", "run_scenario", "to_json"]
