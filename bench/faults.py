"""``python -m bench.faults``: every fault of the hardening suite against the sandbox, as a table.

Each scenario scripts the emulator (tools/sandbox/) to fail one way, invokes
the action once under a short ``__OW_DEADLINE`` and then once more normally,
and records what came back: the status against the documented one, the time
against the deadline, the requests IMS and AEM saw, whether the token cache
was right for the next call, and whether any secret showed up in the
response, a log record at debug or printed output. tests/test_faults.py runs
the same SCENARIOS, so the table and the tests cannot disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import io
import json
import logging
import os
import platform
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from actions.generic import main as action_main
from bench.harness import sandbox
from bench.report import Table, pipe_table
from lib import ims
from lib.endpoints import IMS_TOKEN_PATH
from lib.web import MAX_PAYLOAD_BYTES
from tools.sandbox import ABSENT, AdobeEmulator, Fault

DEADLINE_SECONDS = 2.0  # each invocation's __OW_DEADLINE, from the moment it starts
SLOW = 30.0  # seconds a "slow" upstream waits before answering: far past the deadline
DEFAULT_EXPIRES_IN = 86399  # what IMS grants
# A web caller's own Authorization header: the action must not show it either.
CALLER_TOKEN = "caller-bearer-token-0123456789"  # noqa: S105 - a test value
TRICKLE = 0.25  # seconds a byte: every read is quick, the whole answer takes half a minute
OVER_1_MB = {"items": ["x" * 1000] * 1100}  # about 1.1 MB of JSON


class NextCall(enum.Enum):
    """What the invocation after the fault must find in the token cache."""

    CACHED = "200, cached token"
    NEW = "200, new token"
    REMEMBERED = "502, rejection remembered"

    @property
    def expected(self) -> tuple[int, int]:
        """The next call's status and the token requests it makes."""
        return {NextCall.CACHED: (200, 0), NextCall.NEW: (200, 1),
                NextCall.REMEMBERED: (502, 0)}[self]


@dataclass(frozen=True)
class Scenario:
    """One fault and the answer the action documents for it."""

    name: str
    status: int
    message: str = ""  # how the error message starts
    ims: tuple[Fault, ...] = ()  # IMS's next answers
    aem: tuple[Fault, ...] = ()  # AEM's next answers
    expires_in: Any = DEFAULT_EXPIRES_IN  # in token answers; ABSENT leaves the field out
    ims_refused: bool = False  # IMS refuses connections
    retry_after: str | None = None  # the Retry-After header the answer must carry
    requests: tuple[int, int] = (1, 1)  # IMS and AEM requests the emulator must see
    next_call: NextCall = NextCall.CACHED
    lifetime: float | None = None  # seconds the cache must keep the token, when at issue

    @property
    def expected(self) -> str:
        return _status_text(self.status, self.retry_after)


def _retry_after(seconds: str) -> dict[str, str]:
    return {"Retry-After": seconds}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("IMS refuses connections", 502, "could not connect to IMS", ims_refused=True,
             requests=(0, 0), next_call=NextCall.NEW),
    Scenario("IMS slower than the deadline", 504, "IMS did not answer within",
             ims=(Fault(delay=SLOW),), requests=(1, 0), next_call=NextCall.NEW),
    Scenario("IMS trickles its answer past the deadline", 504,
             "IMS did not finish its answer in time", ims=(Fault(trickle=TRICKLE),),
             requests=(1, 0), next_call=NextCall.NEW),
    Scenario("IMS 429, Retry-After 30", 429, "IMS is throttling token requests",
             ims=(Fault(429, headers=_retry_after("30")),), retry_after="30", requests=(1, 0),
             next_call=NextCall.NEW),
    Scenario("IMS 429, Retry-After 0, then a token", 200,
             ims=(Fault(429, headers=_retry_after("0")),), requests=(2, 1)),
    Scenario("IMS 503, then a token", 200, ims=(Fault(503),), requests=(2, 1)),
    Scenario("IMS 500 (not retried)", 502, "IMS answered HTTP 500", ims=(Fault(500),),
             requests=(1, 0), next_call=NextCall.NEW),
    Scenario("IMS 200, body not JSON", 502, "IMS answered 200 without an access token",
             ims=(Fault(200, body="<html>Service Unavailable</html>"),), requests=(1, 0),
             next_call=NextCall.NEW),
    Scenario("IMS 200, JSON without access_token", 502,
             "IMS answered 200 without an access token",
             ims=(Fault(200, body={"token_type": "bearer", "expires_in": DEFAULT_EXPIRES_IN}),),
             requests=(1, 0), next_call=NextCall.NEW),
    Scenario("IMS 401 invalid_client", 502, "IMS rejected the credentials: invalid_client",
             ims=(Fault(401, body={"error": "invalid_client",
                                   "error_description": "invalid client_secret parameter"}),),
             requests=(1, 0), next_call=NextCall.REMEMBERED),
    Scenario("IMS expires_in missing", 200, expires_in=ABSENT, lifetime=600),
    Scenario("IMS expires_in 0", 200, expires_in=0, next_call=NextCall.NEW),
    Scenario("IMS expires_in -60", 200, expires_in=-60, next_call=NextCall.NEW),
    Scenario("IMS expires_in 10^12 (huge)", 200, expires_in=10**12, lifetime=86400),
    Scenario('IMS expires_in "3600"', 200, expires_in="3600", lifetime=3600),
    Scenario('IMS expires_in "soon"', 200, expires_in="soon", lifetime=600),
    Scenario("AEM 401, then success (one refresh)", 200, aem=(Fault(401),), requests=(2, 2)),
    Scenario("AEM 401 twice (no loop)", 502, "AEM rejected the access token",
             aem=(Fault(401), Fault(401)), requests=(2, 2)),
    Scenario("AEM 403", 502, "AEM refused access for these credentials", aem=(Fault(403),)),
    Scenario("AEM 404", 404, "AEM found no content-requests quota", aem=(Fault(404),)),
    Scenario("AEM 429, Retry-After 30", 429, "AEM is throttling requests",
             aem=(Fault(429, headers=_retry_after("30")),), retry_after="30"),
    Scenario("AEM 500 (not retried)", 502, "AEM answered HTTP 500", aem=(Fault(500),)),
    Scenario("AEM 503 on every try", 502, "AEM answered HTTP 503",
             aem=(Fault(503, headers=_retry_after("0")),) * 4, requests=(1, 4)),
    Scenario("AEM slower than the deadline", 504, "AEM did not answer within",
             aem=(Fault(delay=SLOW),)),
    Scenario("AEM trickles its body past the deadline", 504,
             "AEM did not finish its answer in time",
             aem=(Fault(trickle=TRICKLE),)),
    Scenario("AEM 200, body not JSON", 502, "AEM answered 200 with a body that is not JSON",
             aem=(Fault(200, body="<html>Gateway</html>"),)),
    Scenario("AEM 200, body over 1 MB", 502, f"AEM answered more than {MAX_PAYLOAD_BYTES} bytes",
             aem=(Fault(200, body=OVER_1_MB),)),
)


@dataclass(frozen=True)
class Invocation:
    """One call of the action's ``main`` and what the emulator saw meanwhile."""

    result: Any = field(repr=False)
    raised: str | None  # the exception that escaped main, if one did
    seconds: float
    deadline_seconds: float
    in_time: bool  # returned before __OW_DEADLINE
    ims_requests: int
    aem_requests: int

    @property
    def status(self) -> int | None:
        status = self._part("error", "statusCode") if self._part("error") else self._part(
            "statusCode")
        return status if isinstance(status, int) else None

    @property
    def retry_after(self) -> str | None:
        return self._part("error", "headers", "Retry-After")

    @property
    def message(self) -> str:
        message = self._part("error", "body", "error")
        return message if isinstance(message, str) else ""

    def _part(self, *keys: str) -> Any:
        """The value at ``keys`` in the result, or None when the result has no such part."""
        value = self.result
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class Observation:
    scenario: Scenario
    first: Invocation  # under the fault
    next: Invocation  # the call after it, with the emulator back to normal
    leaks: tuple[str, ...]  # which secrets showed up in what was seen
    seen: str = field(repr=False)  # responses, raw log records at debug and printed output

    @property
    def problems(self) -> tuple[str, ...]:
        """Every way the action differed from what is documented; empty when it did not."""
        s, first = self.scenario, self.first
        found = []
        for call, invocation in (("main", first), ("the next call", self.next)):
            if invocation.raised:
                found.append(f"{invocation.raised} escaped {call}")
            if not invocation.in_time:
                found.append(f"{call} answered after the deadline")
        if (first.status, first.retry_after) != (s.status, s.retry_after):
            found.append(f"answered {self.observed}, not {s.expected}")
        if not first.message.startswith(s.message):
            found.append(f"message {first.message!r} does not start with {s.message!r}")
        if (first.ims_requests, first.aem_requests) != s.requests:
            found.append(f"IMS/AEM saw {first.ims_requests}/{first.aem_requests} requests, "
                         f"not {s.requests[0]}/{s.requests[1]}")
        if (self.next.status, self.next.ims_requests) != s.next_call.expected:
            found.append(f"the next call was {self.next_text}, not {s.next_call.value}")
        found += [f"{secret} leaked" for secret in self.leaks]
        return tuple(found)

    @property
    def observed(self) -> str:
        if self.first.raised:
            return "raised"
        return _status_text(self.first.status, self.first.retry_after)

    @property
    def next_text(self) -> str:
        for kind in NextCall:
            if kind.expected == (self.next.status, self.next.ims_requests):
                return kind.value
        return f"{self.next.status}, {self.next.ims_requests} token requests"


def _status_text(status: int | None, retry_after: str | None) -> str:
    text = str(status)
    return f"{text}, Retry-After {retry_after}" if retry_after is not None else text


def invocation_params(emulator: AdobeEmulator) -> dict[str, Any]:
    """The sandbox credentials, debug logging, and a caller's own bearer token to keep secret."""
    return {**emulator.params(), "LOG_LEVEL": "debug",
            "__ow_headers": {"authorization": f"Bearer {CALLER_TOKEN}"}}


def run_scenario(emulator: AdobeEmulator, scenario: Scenario) -> Observation:
    """Script the fault, invoke the action in a cold container, then once more normally.

    The action's endpoints must already point at ``emulator`` (its ``env()``).
    """
    ims.token_cache.clear()
    params = invocation_params(emulator)
    emulator.expires_in = scenario.expires_in
    emulator.queue("ims", *scenario.ims)
    emulator.queue("aem", *scenario.aem)
    aem_before = len(_bearer_tokens(emulator))
    try:
        with _Capture() as capture:
            if scenario.ims_refused:
                with _refused_url() as url, mock.patch.dict(os.environ, {"IMS_TOKEN_URL": url}):
                    first = invoke(emulator, params)
            else:
                first = invoke(emulator, params)
            emulator.expires_in = DEFAULT_EXPIRES_IN
            after = invoke(emulator, params)
    finally:
        emulator.expires_in = DEFAULT_EXPIRES_IN
    seen = "\n".join([json.dumps([first.result, after.result], default=repr,
                                 ensure_ascii=False), capture.text()])
    secrets = {"client secret": [emulator.client_secret], "caller's token": [CALLER_TOKEN],
               "access token": _bearer_tokens(emulator)[aem_before:]}
    leaks = tuple(name for name, values in secrets.items()
                  if any(value in seen for value in values))
    return Observation(scenario, first, after, leaks, seen)


def invoke(emulator: AdobeEmulator, params: dict[str, Any]) -> Invocation:
    """``main(params)`` under a fresh ``__OW_DEADLINE``, timed; an escaping exception is kept."""
    tokens, aem = emulator.token_requests, emulator.aem_requests
    deadline_ms = int((time.time() + DEADLINE_SECONDS) * 1000)
    started = time.perf_counter()
    raised = None
    with mock.patch.dict(os.environ, {"__OW_DEADLINE": str(deadline_ms)}):
        try:
            result: Any = action_main(params)
        except Exception as exc:  # what the platform would turn into an opaque error
            result, raised = None, f"{type(exc).__name__}: {exc}"
    return Invocation(result, raised, time.perf_counter() - started, DEADLINE_SECONDS,
                      time.time() * 1000 < deadline_ms, emulator.token_requests - tokens,
                      emulator.aem_requests - aem)


def _bearer_tokens(emulator: AdobeEmulator) -> list[str]:
    """The access tokens the action sent to AEM: every token it got and used."""
    return [r.headers.get("authorization", "").removeprefix("Bearer ")
            for r in emulator.requests if r.endpoint == "aem"]


@contextlib.contextmanager
def _refused_url() -> Iterator[str]:
    """An IMS URL on a loopback port that is bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}{IMS_TOKEN_PATH}"


class _Capture(logging.Handler):
    """Every log record at debug, raw (message, structured fields, traceback), and all output."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []
        self.out = io.StringIO()
        self._stack = contextlib.ExitStack()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.getMessage()} {getattr(record, 'fields', '')}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(text)

    def text(self) -> str:
        return "\n".join([*self.records, self.out.getvalue()])

    def __enter__(self) -> _Capture:
        root = logging.getLogger()
        self._stack.callback(root.setLevel, root.level)
        self._stack.callback(root.removeHandler, self)
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        self._stack.enter_context(contextlib.redirect_stdout(self.out))
        self._stack.enter_context(contextlib.redirect_stderr(self.out))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def table(observations: Sequence[Observation]) -> Table:
    rows = tuple(
        (o.scenario.name, o.scenario.expected, o.observed,
         f"{o.first.seconds * 1000:.0f} ms of {o.first.deadline_seconds * 1000:.0f} ms"
         + ("" if o.first.in_time else " LATE"),
         f"{o.first.ims_requests} / {o.first.aem_requests}",
         o.next_text, "LEAK: " + ", ".join(o.leaks) if o.leaks else "clean",
         "ok" if not o.problems else "NO")
        for o in observations)
    return Table(
        "Faults against the sandbox emulator",
        ("Scenario", "Expected", "Observed", "Time / deadline", "IMS / AEM requests",
         "Next call", "Leak check", "As documented"),
        rows)


def to_json(observations: Sequence[Observation]) -> str:
    return json.dumps({
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
                         "aem_requests": o.first.aem_requests, "next_call": o.next_text},
            "leaks": list(o.leaks),
            "problems": list(o.problems),
        } for o in observations],
    }, indent=2) + "\n"


def markdown(observations: Sequence[Observation], seconds: float) -> str:
    failed = [o for o in observations if o.problems]
    lines = [
        f"Command: `python -m bench.faults` — Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count() or 1} CPUs, "
        f"{seconds:.0f} s. Each invocation had __OW_DEADLINE {DEADLINE_SECONDS:.1f} s ahead; "
        "a slow upstream waited "
        f"{SLOW:.0f} s. Leak check: client secret, access tokens and the caller's token "
        "searched in the responses, every log record at debug and all printed output.",
        "",
        *pipe_table(table(observations)),
        "",
        f"{len(observations) - len(failed)} of {len(observations)} scenarios as documented.",
    ]
    lines += [f"- {o.scenario.name}: {problem}" for o in failed for problem in o.problems]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description="Inject every fault of the hardening suite into the sandbox emulator of "
                    "Adobe IMS and AEM and print, per scenario: the documented status, the "
                    "observed one, the time against the activation deadline, the requests IMS "
                    "and AEM saw, what the next call found in the token cache, and a "
                    "secret-leak check.",
        epilog="Exit status 0 when every scenario behaves as documented, 1 otherwise. Nothing "
               "leaves 127.0.0.1; no credentials are needed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.perf_counter()
    with sandbox() as emulator:
        observations = [run_scenario(emulator, scenario) for scenario in SCENARIOS]
    seconds = time.perf_counter() - started
    print(to_json(observations) if args.json else markdown(observations, seconds), end="")
    return 1 if any(o.problems for o in observations) else 0


if __name__ == "__main__":
    sys.exit(main())
