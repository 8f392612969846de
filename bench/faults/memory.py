"""The memory of a fresh process running the action after thousands of distinct rejected
secrets and of distinct valid identities: caches and masks must stay bounded."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import pathlib
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

# The memory probe's fresh process imports this module (and so bench.faults): what they import
# at the top counts in that process's RSS. So the bench's own heavier modules (the harness, the
# report) are imported where they are used, and the RSS measured is the action's.
from actions.generic import main as action_main
from lib import ims
from tools.sandbox import AdobeEmulator, RecordedRequest

if TYPE_CHECKING:
    from bench.report import Table

ROOT = pathlib.Path(__file__).resolve().parents[2]

MANY_PREFIX = "many-"  # client ids and secrets the memory emulator accepts, whatever follows
MEMORY_IDENTITIES = 5_000
EXTRA_PARAM_CHARS = 200_000  # each rejected request carries a distinct parameter this large
MEMORY_GROWTH_MB = 32.0  # the most the process may grow over both rounds


class ManyIdentitiesEmulator(AdobeEmulator):
    """The sandbox emulator, also accepting any client id and secret that start with
    MANY_PREFIX: thousands of distinct valid identities without thousands of accounts.

    Such a request is checked by the sandbox's own rules, as if it carried the sandbox's
    client id and secret; every other request is answered exactly as the sandbox does.
    """

    def _ims(self, request: RecordedRequest) -> Any:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        client = form.get("client_id", [""])[0]
        secret = form.get("client_secret", [""])[0]
        if client.startswith(MANY_PREFIX) and secret.startswith(MANY_PREFIX):
            form.update(client_id=[self.client_id], client_secret=[self.client_secret])
            body = urlencode({name: values[0] for name, values in form.items()}).encode()
            request = dataclasses.replace(request, body=body)
        return super()._ims(request)

    def _aem(self, request: RecordedRequest) -> Any:
        if request.headers.get("x-api-key", "").startswith(MANY_PREFIX):
            request = dataclasses.replace(
                request, headers={**request.headers, "x-api-key": self.client_id})
        return super()._aem(request)


@dataclass(frozen=True)
class MemoryPoint:
    label: str
    rss_mb: float
    sizes: Mapping[str, int]  # entries in each per-key structure
    answered: int  # calls answered as expected
    calls: int


@dataclass(frozen=True)
class MemoryFigures:
    identities: int
    points: tuple[MemoryPoint, ...]
    peak_rss_mb: float
    seconds: float
    bounds: Mapping[str, int]

    @property
    def growth_mb(self) -> float:
        return self.points[-1].rss_mb - self.points[0].rss_mb

    @property
    def problems(self) -> tuple[str, ...]:
        found = [f"{p.label}: {p.calls - p.answered} of {p.calls} calls answered otherwise"
                 for p in self.points if p.answered != p.calls]
        found += [f"{p.label}: {name} holds {p.sizes.get(name)}, over {bound}"
                  for p in self.points for name, bound in self.bounds.items()
                  if p.sizes.get(name, 0) > bound]
        if self.growth_mb > MEMORY_GROWTH_MB:
            found.append(f"the process grew by {self.growth_mb:.1f} MB, over "
                         f"{MEMORY_GROWTH_MB:.0f} MB")
        return tuple(found)


def memory_figures(identities: int = MEMORY_IDENTITIES) -> MemoryFigures:
    """RSS of a fresh process running the action against the emulator (in this process):
    after one call, after ``identities`` distinct rejected secrets (each request with a
    distinct large parameter, at debug), then after as many distinct valid identities."""
    with ManyIdentitiesEmulator() as emulator:
        environment = {name: value for name, value in os.environ.items()
                       if name not in emulator.params() and not name.startswith("__OW_")}
        environment.update(emulator.env(), PYTHONPATH=str(ROOT))
        code = f"from bench.faults.memory import memory_probe; memory_probe({identities})"
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=30 + identities * 0.1,
                              check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed (exit {done.returncode}): "
                           f"{done.stderr[-2000:]}")
    figures = json.loads(done.stdout)
    return MemoryFigures(identities, tuple(MemoryPoint(**point) for point in figures["points"]),
                         figures["peak_rss_mb"], figures["seconds"], figures["bounds"])


def memory_probe(identities: int) -> None:
    """The child's side of memory_figures: run, then print the figures as JSON on stdout."""
    from lib.redact import KnownSecrets, known_secrets

    started = time.perf_counter()
    sandbox_params = {**AdobeEmulator().params(), "LOG_LEVEL": "debug"}
    points = []

    def point(label: str, calls: int, answered: int) -> None:
        gc.collect()
        sizes = {**ims.token_cache.sizes(), "masked values": len(known_secrets)}
        points.append({"label": label, "rss_mb": round(_rss_mb(), 1), "sizes": sizes,
                       "answered": answered, "calls": calls})

    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        point("after one call", 1, int(_status(action_main(dict(sandbox_params))) == 200))
        answered = 0
        for i in range(identities):
            params = {**sandbox_params, "OAUTHS2S_CLIENT_SECRET": f"wrong-secret-{i:06d}-0000",
                      "extra": "x" * EXTRA_PARAM_CHARS + str(i)}
            answered += _status(action_main(params)) == 502
            del params
        point(f"after {identities:,} distinct rejected secrets", identities, answered)
        answered = 0
        for i in range(identities):
            params = {**sandbox_params, "OAUTHS2S_CLIENT_ID": f"{MANY_PREFIX}client-{i:06d}",
                      "OAUTHS2S_CLIENT_SECRET": f"{MANY_PREFIX}secret-{i:06d}-0123456789"}
            answered += _status(action_main(params)) == 200
        point(f"after {identities:,} distinct valid identities", identities, answered)
    bounds = {"tokens": ims.token_cache.max_tokens, "pauses": ims.token_cache.max_tokens,
              "rejections": ims.token_cache.max_rejections,
              "key locks": 1,  # one thread: a lock lives only while a call needs it
              "masked values": KnownSecrets.MAX_ENTRIES}
    print(json.dumps({"points": points, "peak_rss_mb": round(_peak_rss_mb(), 1),
                      "seconds": round(time.perf_counter() - started, 1), "bounds": bounds}))


def _status(result: Any) -> int | None:
    if not isinstance(result, dict):
        return None
    return (result.get("error") or result).get("statusCode")


def _rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, KB here


def memory_table(figures: MemoryFigures) -> Table:
    from bench.report import Table

    names = ("tokens", "rejections", "key locks", "masked values")
    rows = tuple(
        (p.label, f"{p.rss_mb:.1f}", *(str(p.sizes.get(name, 0)) for name in names),
         f"{p.answered} of {p.calls}")
        for p in figures.points)
    return Table(
        "Memory of a fresh process under hostile or many credentials",
        ("Point", "RSS MB", "Cached tokens", "Remembered rejections", "Key locks",
         "Masked values", "Answered as documented"),
        rows)

