"""Warm invocations: the action beside the floor and the naive way, on one emulator.

- ours: ``actions.generic.main(params)`` called again and again in one process,
  as in a warm container (cached token, kept-alive connections);
- floor: the same AEM request replayed byte for byte over one bare
  ``http.client`` keep-alive connection with the token fetched beforehand: one
  round trip and nothing else, what no client can beat;
- naive: what the tutorial does, a new token from IMS and a new connection for
  each of the two requests, on every call.

The three run in turn inside each repetition (the order rotates), so a slow
moment of the machine falls on all of them alike.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests

from actions.generic import main
from bench.harness import (
    HTTP_TIMEOUT,
    BenchError,
    Options,
    expect_success,
    quiet_action_log,
    sandbox,
)
from bench.report import Goal, Section, Table, spread_text
from bench.stats import CallTimes, Spread
from lib.aem import QUOTA_PATH
from tools.sandbox import AdobeEmulator, RecordedRequest

GOAL_LATENCY_MS = 10.0
MAX_OURS_OVER_FLOOR = 1.10
MIN_NAIVE_OVER_OURS = 1.9


class Way(Protocol):
    name: str

    def call(self) -> None:
        """One warm call; raises BenchError unless the quota came back."""


class Ours:
    name = "ours"

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params

    def call(self) -> None:
        expect_success(main(self.params), "ours")


class Floor:
    """Replays a request the action sent, on one connection kept open throughout."""

    name = "floor"

    def __init__(self, emulator: AdobeEmulator, template: RecordedRequest) -> None:
        address = urlsplit(emulator.url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port,
                                                     timeout=HTTP_TIMEOUT)
        self.target = f"{template.path}?{urlencode(template.query, doseq=True)}"
        self.headers = dict(template.headers)

    def call(self) -> None:
        self.connection.request("GET", self.target, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        if response.status != 200:
            raise BenchError(f"floor: AEM answered {response.status}")

    def close(self) -> None:
        self.connection.close()


class Naive:
    """The tutorial's way, plainly: no session, no cache, a token per call."""

    name = "naive"

    def __init__(self, emulator: AdobeEmulator, params: dict[str, str]) -> None:
        self.token_url = emulator.ims_token_url
        self.quota_url = emulator.aem_base_url + QUOTA_PATH
        self.client_id = params["OAUTHS2S_CLIENT_ID"]
        self.client_secret = params["OAUTHS2S_CLIENT_SECRET"]
        self.scopes = params["OAUTHS2S_CECREDENTIALS_METASCOPES"]
        self.org_id = params["IMS_ORG_ID"]

    def call(self) -> None:
        token = requests.post(self.token_url, timeout=HTTP_TIMEOUT, data={
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": self.scopes,
        })
        if token.status_code != 200:
            raise BenchError(f"naive: IMS answered {token.status_code}")
        quota = requests.get(
            self.quota_url,
            params={"imsOrgId": self.org_id, "current": "true"},
            headers={
                "X-Adobe-Accept-Experimental": "1",
                "x-gw-ims-org-id": self.org_id,
                "X-Api-Key": self.client_id,
                "Authorization": f"Bearer {token.json()['access_token']}",
            },
            timeout=HTTP_TIMEOUT,
        )
        if quota.status_code != 200:
            raise BenchError(f"naive: AEM answered {quota.status_code}")
        quota.json()


@dataclass(frozen=True)
class WayFigures:
    """One way's per-call latency in seconds, and what it cost the servers per 1,000 calls."""

    way: str
    mean_seconds: Spread
    p50_seconds: Spread
    p99_seconds: Spread
    over_floor: Spread  # mean per call / the floor's, paired by repetition
    tokens_per_1000: float
    connections_per_1000: float


@dataclass(frozen=True)
class LatencyFigures:
    latency_ms: float
    calls: int
    repeat: int
    ways: tuple[WayFigures, ...]
    naive_over_ours: Spread  # mean per call, paired by repetition

    def way(self, name: str) -> WayFigures:
        return next(w for w in self.ways if w.way == name)


@dataclass(frozen=True)
class WarmFigures:
    latencies: tuple[LatencyFigures, ...]


@dataclass
class _Tally:
    times: list[CallTimes]
    tokens: int = 0
    connections: int = 0


def run(options: Options) -> Section:
    with sandbox() as emulator, quiet_action_log():
        figures = WarmFigures(tuple(measure(emulator, latency, options.calls, options.repeat)
                                    for latency in options.latencies_ms))
    return section(figures)


def measure(emulator: AdobeEmulator, latency_ms: float, calls: int,
            repeat: int) -> LatencyFigures:
    emulator.latency = latency_ms / 1000
    emulator.reset()
    params = emulator.params()
    ours = Ours(params)
    ours.call()  # the container is warm: a token cached, a connection open
    template = next(r for r in reversed(emulator.requests) if r.endpoint == "aem")
    floor = Floor(emulator, template)
    try:
        ways: list[Way] = [ours, floor, Naive(emulator, params)]
        for way in ways[1:]:
            way.call()  # warm-up: the floor's connection opened, the naive way's code loaded
        tallies = {way.name: _Tally([]) for way in ways}
        for repetition in range(repeat):
            shift = repetition % len(ways)
            for way in ways[shift:] + ways[:shift]:
                _timed(way, calls, emulator, tallies[way.name])
    finally:
        floor.close()
    return _figures(latency_ms, calls, repeat, tallies)


def _timed(way: Way, calls: int, emulator: AdobeEmulator, tally: _Tally) -> None:
    tokens, connections = emulator.token_requests, emulator.connections
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        way.call()
        seconds.append(time.perf_counter() - start)
    tally.times.append(CallTimes.of(seconds))
    tally.tokens += emulator.token_requests - tokens
    tally.connections += emulator.connections - connections


def _figures(latency_ms: float, calls: int, repeat: int,
             tallies: dict[str, _Tally]) -> LatencyFigures:
    floor_means = [t.mean for t in tallies["floor"].times]
    per_1000 = 1000 / (calls * repeat)
    ways = tuple(
        WayFigures(
            way=name,
            mean_seconds=Spread.of([t.mean for t in tally.times]),
            p50_seconds=Spread.of([t.p50 for t in tally.times]),
            p99_seconds=Spread.of([t.p99 for t in tally.times]),
            over_floor=_ratios([t.mean for t in tally.times], floor_means),
            tokens_per_1000=tally.tokens * per_1000,
            connections_per_1000=tally.connections * per_1000,
        )
        for name, tally in tallies.items()
    )
    naive_over_ours = _ratios([t.mean for t in tallies["naive"].times],
                              [t.mean for t in tallies["ours"].times])
    return LatencyFigures(latency_ms, calls, repeat, ways, naive_over_ours)


def _ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    return Spread.of([n / d for n, d in zip(numerators, denominators, strict=True)])


def section(figures: WarmFigures) -> Section:
    rows = tuple(
        (f"{lat.latency_ms:g} ms", w.way, spread_text(w.mean_seconds, 1000),
         spread_text(w.p50_seconds, 1000), spread_text(w.p99_seconds, 1000),
         spread_text(w.over_floor), f"{w.tokens_per_1000:g}", f"{w.connections_per_1000:g}")
        for lat in figures.latencies for w in lat.ways
    )
    notes = tuple(f"naive / ours at {lat.latency_ms:g} ms: {spread_text(lat.naive_over_ours)}"
                  for lat in figures.latencies)
    first = figures.latencies[0]
    table = Table(
        title=f"{first.calls} calls per way x {first.repeat} repetitions, per latency",
        columns=("latency", "way", "mean ms", "p50 ms", "p99 ms", "mean / floor",
                 "IMS tokens / 1,000 calls", "new connections / 1,000 calls"),
        rows=rows,
        notes=notes,
    )
    return Section("warm", "Warm invocations (one process, the emulator on loopback)",
                   (table,), _goals(figures), figures)


def _goals(figures: WarmFigures) -> tuple[Goal, Goal]:
    at_goal = next((lat for lat in figures.latencies if lat.latency_ms == GOAL_LATENCY_MS), None)
    over_floor = f"warm call at {GOAL_LATENCY_MS:g} ms ≤ {MAX_OURS_OVER_FLOOR:.2f} x the floor"
    naive = f"naive / ours at {GOAL_LATENCY_MS:g} ms ≥ {MIN_NAIVE_OVER_OURS}"
    if at_goal is None:
        return (Goal(over_floor, "latency not measured", None),
                Goal(naive, "latency not measured", None))
    ratio = at_goal.way("ours").over_floor
    return (
        Goal(over_floor, spread_text(ratio), ratio.median <= MAX_OURS_OVER_FLOOR),
        Goal(naive, spread_text(at_goal.naive_over_ours),
             at_goal.naive_over_ours.median >= MIN_NAIVE_OVER_OURS),
    )
