"""One scenario run: the fault scripted, the action invoked under a short deadline, then once
more normally, and what came back observed against what is documented."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actions.generic import main as action_main
from bench.faults.capture import Capture
from bench.faults.scenarios import (
    CALLER_SECRET,
    CALLER_TOKEN,
    DEADLINE_SECONDS,
    DEFAULT_EXPIRES_IN,
    LOG_BUDGET,
    Deployment,
    NextCall,
    Scenario,
    status_text,
)
from lib import ims
from lib.endpoints import IMS_TOKEN_PATH, IMS_TOKEN_URL_VARIABLE
from tools.local.runner import patched_environ
from tools.sandbox import AdobeEmulator

if TYPE_CHECKING:
    from bench.report import Table


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
    logged: int = 0  # characters of log records and printed output, both calls

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
        if self.logged > LOG_BUDGET:
            found.append(f"logged {self.logged} characters, over {LOG_BUDGET}")
        return tuple(found)

    @property
    def observed(self) -> str:
        if self.first.raised:
            return "raised"
        return status_text(self.first.status, self.first.retry_after)

    @property
    def next_text(self) -> str:
        for kind in NextCall:
            if kind.expected == (self.next.status, self.next.ims_requests):
                return kind.value
        return f"{self.next.status}, {self.next.ims_requests} token requests"


def invocation_params(emulator: AdobeEmulator,
                      deployment: Deployment = Deployment.INPUTS) -> dict[str, Any]:
    """What the deployment passes (the sandbox identity, unless it is in the environment),
    debug logging, and a caller's own bearer token to keep secret."""
    params: dict[str, Any] = {"LOG_LEVEL": "debug",
                              "__ow_headers": {"authorization": f"Bearer {CALLER_TOKEN}"}}
    if deployment is Deployment.INPUTS:
        params.update(emulator.params())
    elif deployment is Deployment.APP_BUILDER:
        params["__ims_oauth_s2s"] = {
            "client_id": emulator.client_id, "client_secret": emulator.client_secret,
            "org_id": emulator.org_id, "scopes": list(emulator.scopes)}
    return params


def deployment_environment(emulator: AdobeEmulator, deployment: Deployment) -> dict[str, str]:
    """The process environment the deployment adds: the identity, as init parameters."""
    return emulator.params() if deployment is Deployment.ENVIRONMENT else {}


def run_scenario(emulator: AdobeEmulator, scenario: Scenario) -> Observation:
    """Script the fault, invoke the action in a cold container, then once more normally.

    The action's endpoints must already point at ``emulator`` (its ``env()``).
    """
    ims.token_cache.clear()
    params = invocation_params(emulator, scenario.deployment)
    emulator.expires_in = scenario.expires_in
    emulator.queue("ims", *scenario.ims)
    emulator.queue("aem", *scenario.aem)
    aem_before = len(_bearer_tokens(emulator))
    try:
        with Capture() as capture, patched_environ(deployment_environment(emulator,
                                                                     scenario.deployment)):
            request = {**params, **scenario.request()}
            if scenario.ims_refused:
                with _refused_url() as url, patched_environ({IMS_TOKEN_URL_VARIABLE: url}):
                    first = invoke(emulator, request)
            else:
                first = invoke(emulator, request)
            del request
            emulator.expires_in = DEFAULT_EXPIRES_IN
            after = invoke(emulator, params)
    finally:
        emulator.expires_in = DEFAULT_EXPIRES_IN
    logged = capture.text()
    seen = "\n".join([json.dumps([first.result, after.result], default=repr,
                                 ensure_ascii=False), logged])
    secrets = {"client secret": [emulator.client_secret], "caller's token": [CALLER_TOKEN],
               "caller's secret": [CALLER_SECRET],
               "access token": _bearer_tokens(emulator)[aem_before:]}
    leaks = tuple(name for name, values in secrets.items()
                  if any(value in seen for value in values))
    return Observation(scenario, first, after, leaks, seen, len(logged))


def invoke(emulator: AdobeEmulator, params: dict[str, Any]) -> Invocation:
    """``main(params)`` under a fresh ``__OW_DEADLINE``, timed; an escaping exception is kept."""
    tokens, aem = emulator.token_requests, emulator.aem_requests
    deadline_ms = int((time.time() + DEADLINE_SECONDS) * 1000)
    started = time.perf_counter()
    raised = None
    with patched_environ({"__OW_DEADLINE": str(deadline_ms)}):
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


def table(observations: Sequence[Observation]) -> Table:
    from bench.report import Table

    rows = tuple(
        (o.scenario.name, o.scenario.expected, o.observed,
         f"{o.first.seconds * 1000:.0f} ms of {o.first.deadline_seconds * 1000:.0f} ms"
         + ("" if o.first.in_time else " LATE"),
         f"{o.first.ims_requests} / {o.first.aem_requests}",
         o.next_text, "LEAK: " + ", ".join(o.leaks) if o.leaks else "clean",
         f"{o.logged / 1000:.1f} KB", "ok" if not o.problems else "NO")
        for o in observations)
    return Table(
        "Faults against the sandbox emulator",
        ("Scenario", "Expected", "Observed", "Time / deadline", "IMS / AEM requests",
         "Next call", "Leak check", "Logged", "As documented"),
        rows)

