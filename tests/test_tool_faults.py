"""The developer tools under hostile files and peers, as ``python -m bench.tool_faults`` shows them.

Every scenario of bench.tool_faults.SCENARIOS runs once in quick mode (a 0.3 s
idle timeout) and must be as documented; no figure of time is asserted. The
run must leave no thread, temporary folder or printed secret behind.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import threading
from unittest import mock

import pytest

from bench import tool_faults
from bench.tool_faults import QUICK_IDLE_TIMEOUT, SCENARIOS, Result, Scenario, markdown, run_all
from tools.local import server as web_server


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    """Every scenario once, in quick mode, with its temporary folders under one of pytest's."""
    temporary = tmp_path_factory.mktemp("tool-faults")
    threads = set(threading.enumerate())
    with mock.patch.object(tempfile, "tempdir", str(temporary)):
        ran = run_all(quick=True)
    left = {thread for thread in set(threading.enumerate()) - threads
            if thread.name != "lib._watchdog"}  # the one process-wide watchdog stays, by design
    assert not left, "a server or handler thread was left running"
    assert list(temporary.iterdir()) == [], "a temporary project was left behind"
    return ran


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_each_tool_fault_is_answered_as_documented(results: list[Result],
                                                   scenario: Scenario) -> None:
    (result,) = [r for r in results if r.scenario is scenario]
    assert result.observation.outcome == scenario.expected
    assert result.as_documented


def test_quick_mode_shrinks_the_idle_timeout_only_for_the_run(results: list[Result]) -> None:
    assert {r.settings.idle_timeout for r in results} == {QUICK_IDLE_TIMEOUT}
    assert web_server._WebHandler.timeout == web_server.IDLE_TIMEOUT_SECONDS == 15
    idle = [r for r in results if "idle_timeout_seconds" in r.observation.facts]
    assert len(idle) == 2
    assert all(r.observation.facts["bytes_received"] == 0 for r in idle)


def test_the_table_counts_every_scenario_and_never_shows_the_secret(
        results: list[Result]) -> None:
    text = markdown(results, 1.0)
    secret = results[0].settings.secret
    assert secret not in text
    assert secret not in repr(results)
    assert secret not in tool_faults.to_json(results)
    assert f"{len(SCENARIOS)} of {len(SCENARIOS)} scenarios as documented." in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].split("|")[1:-1] == [
        f" {name.ljust(len(cell) - 2)} " for name, cell in zip(
            ("Scenario", "Expected", "Observed", "Time", "As documented"),
            rows[0].split("|")[1:-1], strict=True)]
    assert len(rows) == len(SCENARIOS) + 2  # the header, its rule and one row a scenario
    assert [row.split("|")[-2].strip() for row in rows[2:]] == ["ok"] * len(SCENARIOS)


def test_a_scenario_that_raises_is_reported_not_documented() -> None:
    def broken(_settings: tool_faults.Settings) -> tool_faults.Observation:
        raise RuntimeError("no such thing")

    result = tool_faults.run_scenario(Scenario("broken", "exit 2", broken),
                                      tool_faults.Settings.for_run(quick=True))
    assert result.observation.outcome == "raised RuntimeError: no such thing"
    assert not result.as_documented


def test_json_output_parses_and_exits_0(capsys: pytest.CaptureFixture[str],
                                        tmp_path: pathlib.Path) -> None:
    with mock.patch.object(tempfile, "tempdir", str(tmp_path)):
        status = tool_faults.main(["--json", "--quick"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["idle_timeout_seconds"] == QUICK_IDLE_TIMEOUT
    assert [s["scenario"] for s in document["scenarios"]] == [s.name for s in SCENARIOS]
    assert all(s["as_documented"] for s in document["scenarios"])
    bomb = document["scenarios"][0]
    assert bomb["facts"]["exit_status"] == 2
    assert 500 <= bomb["facts"]["bomb_bytes"] <= 700
