"""Every fault of the hardening suite against the sandbox emulator: the documented answer, in time.

The scenarios are bench.faults.SCENARIOS, the ones ``python -m bench.faults``
prints as a table, so the figures in docs/reliability.md and bench/README.md and these tests
cannot disagree.
Each is checked here on the raw response, the emulator's counters and the
clock, not only through the bench's own verdict.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bench.faults import (
    ENDPOINT_CASES,
    LOG_BUDGET,
    MEMORY_GROWTH_MB,
    SCENARIOS,
    Deployment,
    EndpointCase,
    Scenario,
    endpoint_table,
    invocation_params,
    invoke,
    markdown,
    memory_figures,
    memory_table,
    run_endpoint_case,
    run_scenario,
    table,
    to_json,
)
from bench.faults import main as faults_main
from lib import ims
from lib._token_cache import REFRESH_MARGIN
from tests.action_support import FakeClock
from tools.sandbox import AdobeEmulator


def scenario_id(scenario: Scenario) -> str:
    return scenario.name


def assert_web_response(result: Any, status: int) -> None:
    """The success shape or App Builder's error shape, with ``status``."""
    if status == 200:
        assert set(result) == {"statusCode", "headers", "body"}
        assert result["statusCode"] == 200
        assert result["headers"] == {"Content-Type": "application/json"}
        assert isinstance(result["body"], dict)
        return
    assert set(result) == {"error"}
    error = result["error"]
    assert set(error) <= {"statusCode", "headers", "body"}
    assert error["statusCode"] == status
    assert isinstance(error["body"]["error"], str)
    assert error["body"]["error"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_each_fault_is_answered_as_documented(adobe: AdobeEmulator, scenario: Scenario) -> None:
    observation = run_scenario(adobe, scenario)
    first = observation.first

    assert first.raised is None
    assert_web_response(first.result, scenario.status)
    if scenario.status != 200:
        assert first.result["error"]["body"]["error"].startswith(scenario.message)
    assert first.result.get("error", {}).get("headers") == (
        {"Retry-After": scenario.retry_after} if scenario.retry_after else None)
    assert first.in_time  # before __OW_DEADLINE, so the platform never kills it
    assert (first.ims_requests, first.aem_requests) == scenario.requests

    after = observation.next
    assert after.raised is None
    assert_web_response(after.result, scenario.next_call.expected[0])
    assert after.ims_requests == scenario.next_call.expected[1]
    assert after.in_time

    assert observation.leaks == ()
    assert observation.problems == ()  # the table's verdict agrees


def test_the_capture_behind_the_leak_check_sees_debug_logs_and_output(
        adobe: AdobeEmulator) -> None:
    """The leak check means something only if what it searches holds what the action showed."""
    observation = run_scenario(adobe, next(s for s in SCENARIOS if s.name == "AEM 403"))
    for expected in ("parameters:", '"level": "debug"', "Starting new HTTP connection",
                     "IMS token minted", "request failed", "AEM refused access"):
        assert expected in observation.seen


def test_a_leak_would_be_reported(adobe: AdobeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately leaky log record makes the check fail, naming the secret."""
    real = ims.request_token

    def leaking(token_url: str, credentials: ims.S2SCredentials, *args: Any) -> Any:
        logging.getLogger("lib.leaky").debug("sending %s", credentials.client_secret)
        return real(token_url, credentials, *args)

    monkeypatch.setattr(ims, "request_token", leaking)
    observation = run_scenario(adobe, SCENARIOS[-1])
    assert observation.leaks == ("client secret",)
    assert "client secret leaked" in observation.problems


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.lifetime is not None],
                         ids=scenario_id)
def test_the_token_is_cached_for_the_lifetime_it_was_granted(
        adobe: AdobeEmulator, monkeypatch: pytest.MonkeyPatch, scenario: Scenario) -> None:
    clock = FakeClock()
    monkeypatch.setattr(ims.token_cache, "clock", clock)
    assert scenario.lifetime is not None
    observation = run_scenario(adobe, scenario)
    assert observation.next.ims_requests == 0
    params = invocation_params(adobe)

    # Refreshed ahead of its end: five minutes early, or at half-life when that is sooner.
    refresh_at = scenario.lifetime - min(REFRESH_MARGIN, scenario.lifetime / 2)
    clock.advance(refresh_at - 1)
    assert invoke(adobe, params).ims_requests == 0
    clock.advance(2)
    assert invoke(adobe, params).ims_requests == 1


def test_the_rejected_token_is_not_used_again(adobe: AdobeEmulator) -> None:
    scenario = next(s for s in SCENARIOS if s.name.startswith("AEM 401, then success"))
    observation = run_scenario(adobe, scenario)
    rejected, accepted, reused = [r.headers["authorization"]
                                  for r in adobe.requests if r.endpoint == "aem"]
    assert observation.next.ims_requests == 0
    assert rejected != accepted == reused


def test_the_table_and_the_json_show_each_scenario_and_its_verdict(adobe: AdobeEmulator) -> None:
    chosen = [s for s in SCENARIOS if s.name in ("AEM 403", "AEM 404", "IMS expires_in 0")]
    observations = [run_scenario(adobe, s) for s in chosen]
    text = markdown(observations, seconds=1.0)
    header, _, *rows = [line for line in text.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in header.split("|")[1:-1]] == list(table(observations).columns)
    assert [row.split("|")[1].strip() for row in rows] == [s.name for s in chosen]
    assert all(row.split("|")[-2].strip() == "ok" for row in rows)
    assert "3 of 3 scenarios as documented." in text
    document = json.loads(to_json(observations))
    assert [s["observed"]["status"] for s in document["scenarios"]] == [200, 502, 404]
    assert all(s["problems"] == [] for s in document["scenarios"])


def test_the_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        faults_main(["--help"])
    assert exited.value.code == 0
    assert "usage: python -m bench.faults" in capsys.readouterr().out


# --- round two: identity precedence, input no path turns into a 500, bounded logs ------------


def test_every_identity_source_and_hostile_input_class_has_scenarios() -> None:
    names = [s.name for s in SCENARIOS]
    assert {s.deployment for s in SCENARIOS} == set(Deployment)
    assert sum("lone surrogate" in name for name in names) >= 3
    assert sum(name.startswith("debug, ") for name in names) >= 3
    assert sum("the caller" in name for name in names) >= 4


def test_no_scenario_logs_more_than_the_budget(adobe: AdobeEmulator) -> None:
    for scenario in SCENARIOS:
        if scenario.name.startswith("debug, "):
            observation = run_scenario(adobe, scenario)
            assert 0 < observation.logged <= LOG_BUDGET
            assert "parameters:" in observation.seen


def test_an_identity_the_caller_adds_never_reaches_ims(adobe: AdobeEmulator) -> None:
    for scenario in SCENARIOS:
        if "the caller" in scenario.name:
            run_scenario(adobe, scenario)
    sent = [r.body.decode() for r in adobe.requests if r.endpoint == "ims"]
    assert sent
    assert all("caller" not in body.lower() and "CA11E5" not in body for body in sent)
    aem_orgs = {r.headers.get("x-gw-ims-org-id") for r in adobe.requests if r.endpoint == "aem"}
    assert aem_orgs == {adobe.org_id}


# --- endpoints refused at configuration --------------------------------------------------------


@pytest.mark.parametrize("case", ENDPOINT_CASES, ids=lambda case: case.shown())
def test_each_endpoint_value_is_judged_by_the_host_dialed(adobe: AdobeEmulator,
                                                          case: EndpointCase) -> None:
    observation = run_endpoint_case(adobe, case)
    if case.refused:
        assert observation.status == 500
        assert observation.message.startswith(f"{case.variable} {case.refused}")
        assert observation.requests == 0
        assert observation.looked_up == ()
    elif case.dials:
        assert observation.looked_up == (case.dials,)  # stopped there: nothing left the machine
    else:
        assert observation.status == 200
    assert observation.problems == ()


def test_the_issue_examples_pass_the_old_check_and_are_refused_now() -> None:
    """What urllib.parse reads (the old check's view) ends in an allowed suffix or loopback;
    what urllib3 reads is another host."""
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    for case in ENDPOINT_CASES[:2]:
        url = case.url.format(port=8080)
        checked = urlsplit(url).hostname or ""
        assert checked.endswith(".adobelogin.com") or checked == "127.0.0.1"
        assert parse_url(url).host == "evil.example"
        assert case.refused


def test_the_endpoint_table_shows_each_value_and_its_verdict(adobe: AdobeEmulator) -> None:
    observations = [run_endpoint_case(adobe, case) for case in ENDPOINT_CASES[:3]]
    text = markdown([], 1.0, endpoints=observations)
    assert endpoint_table(observations).title in text
    assert "`https://evil.example\\.adobelogin.com/ims/token/v3`" in text
    assert "`http://evil.example\\@127.0.0.1:PORT/ims/token/v3`" in text
    assert "`https://evil.example\\t.adobelogin.com/ims/token/v3`" in text
    assert "3 of 3 endpoint values as documented." in text
    document = json.loads(to_json([], endpoints=observations))
    assert [e["observed"] for e in document["endpoints"]] == ["500, nothing sent"] * 3
    assert all(e["problems"] == [] for e in document["endpoints"])


# --- memory under hostile or many credentials ------------------------------------------------


def test_memory_stays_bounded_in_a_fresh_process() -> None:
    """A small run of the figures ``python -m bench.faults`` prints for 5,000 of each."""
    figures = memory_figures(300)
    assert [p.calls for p in figures.points] == [1, 300, 300]
    assert all(p.answered == p.calls for p in figures.points)
    after_rejected, after_valid = figures.points[1].sizes, figures.points[2].sizes
    assert after_rejected["rejections"] == figures.bounds["rejections"]  # full, not over
    assert after_valid["tokens"] == figures.bounds["tokens"]
    assert after_valid["key locks"] == 0
    assert after_valid["masked values"] <= figures.bounds["masked values"]
    assert figures.growth_mb < MEMORY_GROWTH_MB
    assert figures.problems == ()
    text = markdown([], 1.0, memory=figures)
    assert memory_table(figures).title in text
    assert "after 300 distinct rejected secrets" in text
    document = json.loads(to_json([], memory=figures))
    assert document["memory"]["identities"] == 300
    assert document["memory"]["problems"] == []
