"""The benchmark runs end to end with tiny sizes and reports every figure (no timed assertions)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import sys
from collections.abc import Iterator

import pytest

from bench import artefact, cold, memory, warm
from bench.__main__ import MEASUREMENTS, main
from bench.harness import BenchError, Options, sandbox
from bench.report import RunInfo, Section, markdown, to_json
from bench.stats import CallTimes, Spread, percentile
from lib import ims
from tests.redis_support import require_redis_server
from tools.sandbox import SANDBOX_CLIENT_SECRET, Fault

TINY = Options(calls=3, repeat=2, processes=2, invocations=20, threads=(1, 4), memory_calls=5)
# measurements added later come on top
CORE_MEASUREMENTS = ("warm", "ims_load", "cold", "memory", "artefact")
CORE_GOALS = 9  # warm 2, ims_load 2, cold 2, memory 2, artefact 1
HOST_VARIABLES = ("IMS_TOKEN_URL", "AEM_API_BASE_URL", "__OW_DEADLINE", "__OW_ACTIVATION_ID")
INFO = RunInfo("python -m bench", "3.11", "Linux x86_64", 2, 1.0)


@pytest.fixture(scope="module")
def sections() -> Iterator[dict[str, Section]]:
    """Every measurement once, with tiny sizes: each test below reads a part of this run."""
    with pytest.MonkeyPatch.context() as patch:
        for name in HOST_VARIABLES:  # the action reads them; the host's must not count
            patch.delenv(name, raising=False)
        yield {name: run(TINY) for name, run in MEASUREMENTS.items()}
    ims.token_cache.clear()


def spreads(value: object) -> list[Spread]:
    """Every Spread inside a figures dataclass, at any depth."""
    if isinstance(value, Spread):
        return [value]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in spreads(getattr(value, f.name))]
    if isinstance(value, tuple):
        return [s for item in value for s in spreads(item)]
    return []


def test_every_timed_measurement_reports_ordered_positive_spreads(sections) -> None:
    assert set(CORE_MEASUREMENTS) <= set(sections)
    for key in ("warm", "cold", "memory", "artefact"):
        found = spreads(sections[key].figures)
        assert found, key
        for spread in found:
            assert 0 < spread.low <= spread.median <= spread.high


def test_warm_puts_ours_the_floor_and_the_naive_way_side_by_side(sections) -> None:
    figures = sections["warm"].figures
    assert [lat.latency_ms for lat in figures.latencies] == [0.0, 10.0]
    for lat in figures.latencies:
        assert [w.way for w in lat.ways] == ["ours", "floor", "naive"]
        ours, floor, naive = lat.ways
        # Counted by the emulator: the warm action and the floor reuse one token and connection.
        assert (ours.tokens_per_1000, ours.connections_per_1000) == (0, 0)
        assert (floor.tokens_per_1000, floor.connections_per_1000) == (0, 0)
        assert (naive.tokens_per_1000, naive.connections_per_1000) == (1000, 2000)
        assert floor.over_floor == Spread(1.0, 1.0, 1.0)
        assert (lat.calls, lat.repeat) == (3, 2)


def test_ims_load_counts_token_requests_per_thread_count(sections) -> None:
    runs = sections["ims_load"].figures.runs
    assert [(r.threads, r.invocations) for r in runs] == [(1, 20), (4, 20)]
    assert [r.token_requests for r in runs] == [1, 1]
    assert all(r.connections >= 1 and r.seconds > 0 for r in runs)


def test_cold_start_imports_nothing_the_action_does_not_use(sections) -> None:
    figures = sections["cold"].figures
    zipped = artefact.action_zip(TINY.root)
    assert [s.name for s in figures.starts] == [
        s.name for s in cold.STARTS if zipped.bytecode or s is not cold.ACTION_FROM_ZIP_PYC]
    assert [f.latency_ms for f in figures.first_calls] == [0.0, 10.0]
    assert "actions.generic.action" in figures.extra_modules
    assert "lib.http" in figures.extra_modules
    assert not any(m.split(".")[0] in ("yaml", "dotenv", "tools", "bench", "requests")
                   for m in figures.extra_modules)
    assert 0 < len(figures.top_extra) <= cold.TOP_MODULES


def test_cold_start_puts_the_zip_with_its_bytecode_beside_the_zip_without(sections) -> None:
    figures = sections["cold"].figures
    names = [s.name for s in figures.starts]
    assert cold.ACTION_FROM_ZIP.name in names
    goal = sections["cold"].goals[-1]
    assert "with its bytecode" in goal.name
    if artefact.action_zip(TINY.root).bytecode:
        assert cold.ACTION_FROM_ZIP_PYC.name in names
        assert figures.bytecode_over_sources is not None
        assert figures.bytecode_over_sources_cpu is not None
        assert goal.met in (True, False)
        assert "with its bytecode / without" in markdown(INFO, [sections["cold"]])
    else:  # another Python than the kind's: no bytecode, and the run says why
        assert figures.bytecode_over_sources is None
        assert goal.met is None
        assert "no bytecode" in goal.measured


def test_memory_measures_the_warm_process_and_prices_a_million_calls(sections) -> None:
    figures = sections["memory"].figures
    assert (figures.calls, figures.processes, figures.latency_ms) == (5, memory.PROCESSES, 10.0)
    assert figures.peak_rss_kb.low > 10_000  # an interpreter with requests loaded
    for rss in (figures.rss_after_import_kb, figures.rss_after_first_call_kb,
                figures.rss_at_end_kb):
        assert rss is None or rss.high <= figures.peak_rss_kb.high
    assert figures.manifest_memory_mb == 128  # what manifest.yaml sets for the action
    assert figures.needed_memory_mb == memory.needed_memory_mb(figures.peak_rss_kb.high)
    mean = figures.mean_call_seconds
    assert figures.gb_seconds_per_million == mean.scaled(128 / 1024 * 1e6)
    assert figures.gb_seconds_per_million_default == mean.scaled(256 / 1024 * 1e6)
    text = markdown(INFO, [sections["memory"]])
    assert "| 128 MB (manifest)" in text
    assert "| 256 MB (OpenWhisk's default)" in text
    assert [goal.met for goal in sections["memory"].goals] == [
        figures.needed_memory_mb == 128, True]


def test_the_memory_limit_is_the_smallest_allowed_with_twice_the_peak() -> None:
    assert memory.needed_memory_mb(30 * 1024) == 128  # OpenWhisk's least
    assert memory.needed_memory_mb(64 * 1024) == 128
    assert memory.needed_memory_mb(64 * 1024 + 1) == 129
    assert memory.needed_memory_mb(100 * 1024) == 200
    with pytest.raises(BenchError, match="over OpenWhisk's 512 MB"):
        memory.needed_memory_mb(300 * 1024)


def test_artefact_reports_the_manifest_actions_zip(sections) -> None:
    [built] = sections["artefact"].figures.zips
    assert built.action == "dx-excshell-1/generic"
    assert built.zip_bytes > built.bytecode_bytes
    assert built.files > 3
    assert (built.bytecode_bytes > 0) == (built.note == "")


def test_every_core_goal_gets_a_verdict(sections) -> None:
    goals = [goal for key in CORE_MEASUREMENTS for goal in sections[key].goals]
    assert len(goals) == CORE_GOALS
    # Only the bytecode goal goes unmeasured, when this Python is not the kind's.
    assert all(goal.met in (True, False) for goal in goals if "bytecode" not in goal.name)


def test_json_and_markdown_show_every_section_and_no_secret(sections) -> None:
    document = json.loads(to_json(INFO, list(sections.values())))
    assert set(document["sections"]) == set(sections)
    assert len([g for g in document["goals"] if g["section"] in CORE_MEASUREMENTS]) == CORE_GOALS
    text = markdown(INFO, list(sections.values()))
    for section in sections.values():
        assert f"### {section.title}" in text
        for table in section.tables:
            assert f"**{table.title}**" in text
    assert "### Goals" in text
    assert "`python -m bench`" in text
    for output in (text, json.dumps(document)):
        assert SANDBOX_CLIENT_SECRET not in output
        assert "Bearer" not in output


def test_the_command_line_prints_json_or_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "artefact", "-r", "1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document["sections"]) == ["artefact"]
    assert document["run"]["command"] == "python -m bench --only artefact -r 1 --json"
    assert main(["--only", "artefact", "-r", "1"]) == 0
    assert "| dx-excshell-1/generic |" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "named"), [
    (["-n", "0"], "--calls"),
    (["--repeat", "x"], "--repeat"),
    (["--only", "warm,nope"], "nope"),
    (["--latencies", "10,fast"], "--latencies"),
    (["--latencies", "-5"], "negative"),
    (["--threads", "0"], "--threads"),
])
def test_bad_options_exit_2_naming_the_problem(argv: list[str], named: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_a_measurement_that_fails_exits_1_with_a_message(
        monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(MEASUREMENTS, "artefact",
                        lambda options: artefact.run(dataclasses.replace(options, root=tmp_path)))
    assert main(["--only", "artefact"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench: error: ")
    assert "manifest.yaml" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("endpoint", ["ims", "aem"])
def test_a_failed_call_is_an_error_never_a_timing(endpoint: str) -> None:
    with sandbox() as emulator, contextlib.redirect_stderr(io.StringIO()):
        emulator.queue(endpoint, Fault(status=403))
        with pytest.raises(BenchError, match="ours: the action answered"):
            warm.Ours(emulator.params()).call()
        emulator.queue(endpoint, Fault(status=403))
        with pytest.raises(BenchError, match=f"naive: {endpoint.upper()} answered 403"):
            warm.Naive(emulator, emulator.params()).call()


def test_the_floor_replays_the_actions_request_on_one_connection() -> None:
    with sandbox() as emulator, contextlib.redirect_stderr(io.StringIO()):
        warm.Ours(emulator.params()).call()
        [sent] = [r for r in emulator.requests if r.endpoint == "aem"]
        floor = warm.Floor(emulator, sent)
        emulator.reset()
        try:
            floor.call()
            floor.call()
            emulator.queue("aem", Fault(status=500))
            with pytest.raises(BenchError, match="floor: AEM answered 500"):
                floor.call()
        finally:
            floor.close()
        replayed = emulator.requests
    assert [(r.path, r.query, r.headers) for r in replayed] == [
        (sent.path, sent.query, sent.headers)] * 3
    assert len({r.connection_id for r in replayed}) == 1


def test_spawn_reads_each_childs_own_peak_memory_and_reports_failures(
        tmp_path: pathlib.Path) -> None:
    big = cold.spawn([sys.executable, "-c", "x = bytearray(60_000_000); x[::4096] = b'1' * "
                      "len(x[::4096])"], tmp_path, dict(os.environ))
    small = cold.spawn([sys.executable, "-c", "pass"], tmp_path, dict(os.environ))
    assert big.max_rss_kb - small.max_rss_kb > 50_000
    failing = "import sys; print('boom', file=sys.stderr); sys.exit(3)"
    with pytest.raises(BenchError, match=r"exited with 3:\n.*boom"):
        cold.spawn([sys.executable, "-c", failing], tmp_path, dict(os.environ))


def test_percentiles_are_values_really_measured() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert CallTimes.of([1.0, 2.0, 6.0]) == CallTimes(3.0, 2.0, 6.0)
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0)
    with pytest.raises(ValueError, match="at least one"):
        Spread.of([])


def test_fleet_puts_cold_containers_with_and_without_the_store_side_by_side(sections) -> None:
    require_redis_server()  # without it the run goes on, its goals "not measured"
    figures = sections["fleet"].figures

    counts = {how: (alone, shared) for _, how, alone, shared in figures.token_requests}
    assert counts["in a row"] == (10, 1)
    assert counts["at once"][0] == 12
    assert counts["at once"][1] <= 2
    assert all(goal.met is not None for goal in sections["fleet"].goals)
