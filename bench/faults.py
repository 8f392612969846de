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
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import gc
import io
import ipaddress
import json
import logging
import os
import pathlib
import platform
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

# The memory probe's fresh process imports this module: what it imports at the top counts in
# that process's RSS. So the bench's own heavier modules (the harness, the report) are
# imported where they are used, and the RSS measured is the action's.
from actions.generic import main as action_main
from lib import ims
from lib.endpoints import (
    AEM_BASE_URL_VARIABLE,
    IMS_TOKEN_PATH,
    IMS_TOKEN_URL_VARIABLE,
    AdobeEndpoints,
)
from lib.errors import ConfigurationError
from lib.web import MAX_PAYLOAD_BYTES
from tools.local.runner import patched_environ
from tools.sandbox import ABSENT, AdobeEmulator, Fault, RecordedRequest

if TYPE_CHECKING:
    from bench.report import Table

ROOT = pathlib.Path(__file__).resolve().parents[1]

DEADLINE_SECONDS = 2.0  # each invocation's __OW_DEADLINE, from the moment it starts
SLOW = 30.0  # seconds a "slow" upstream waits before answering: far past the deadline
DEFAULT_EXPIRES_IN = 86399  # what IMS grants
# A web caller's own Authorization header: the action must not show it either.
CALLER_TOKEN = "caller-bearer-token-0123456789"  # noqa: S105 - a test value
TRICKLE = 0.25  # seconds a byte: every read is quick, the whole answer takes half a minute
OVER_1_MB = {"items": ["x" * 1000] * 1100}  # about 1.1 MB of JSON
# A client secret a web caller tries through the action: it must never reach IMS, nor a log.
CALLER_SECRET = "p8e-Caller-Guessed-Secret-0123456789"  # noqa: S105 - a test value
CALLER_ORG = "CA11E5C0FFEE0123456789AB@AdobeOrg"
LOG_BUDGET = 64_000  # characters two invocations at debug may log, whatever the request
LONE_SURROGATE = "\ud800"  # text UTF-8 cannot encode


class Deployment(enum.Enum):
    """Where the deployment puts the action's identity (client id, secret, scopes, org)."""

    INPUTS = "inputs"  # the four as parameters, protected by `final` (manifest.yaml)
    APP_BUILDER = "__ims_oauth_s2s"  # App Builder's include-ims-credentials object
    ENVIRONMENT = "init parameters"  # OpenWhisk init parameters: the process environment


def _nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": … {}}}``, ``depth`` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _caller_object() -> dict[str, Any]:
    """An ``__ims_oauth_s2s`` a web caller makes up: its own client, secret and org."""
    return {"client_id": "caller-client-id", "client_secret": CALLER_SECRET,
            "org_id": CALLER_ORG, "scopes": ["openid", "AdobeID"]}


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
    deployment: Deployment = Deployment.INPUTS  # for both calls
    # What the first call's request adds to (or replaces in) the deployment's parameters:
    # made on demand, as some are large.
    request: Callable[[], Mapping[str, Any]] = field(
        default=lambda: MappingProxyType({}), repr=False, compare=False)

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
    # A web caller adds identity parameters the deployment did not define (`final` lets it).
    Scenario("__ims_oauth_s2s; the caller adds IMS_ORG_ID", 400,
             "parameter(s) 'IMS_ORG_ID' not allowed", deployment=Deployment.APP_BUILDER,
             request=lambda: {"IMS_ORG_ID": CALLER_ORG}, requests=(0, 0),
             next_call=NextCall.NEW),
    Scenario("__ims_oauth_s2s; the caller tries a client and secret", 400,
             "parameter(s) 'OAUTHS2S_CLIENT_ID,OAUTHS2S_CLIENT_SECRET' not allowed",
             deployment=Deployment.APP_BUILDER,
             request=lambda: {"OAUTHS2S_CLIENT_ID": "caller-client-id",
                              "OAUTHS2S_CLIENT_SECRET": CALLER_SECRET},
             requests=(0, 0), next_call=NextCall.NEW),
    Scenario("init parameters; the caller adds OAUTHS2S_CLIENT_SECRET", 400,
             "parameter(s) 'OAUTHS2S_CLIENT_SECRET' not allowed",
             deployment=Deployment.ENVIRONMENT,
             request=lambda: {"OAUTHS2S_CLIENT_SECRET": CALLER_SECRET}, requests=(0, 0),
             next_call=NextCall.NEW),
    Scenario("init parameters; the caller adds __ims_oauth_s2s (ignored)", 200,
             deployment=Deployment.ENVIRONMENT,
             request=lambda: {"__ims_oauth_s2s": _caller_object()}),
    Scenario("inputs; the caller adds __ims_oauth_s2s", 400,
             "parameter(s) 'IMS_ORG_ID,OAUTHS2S_CLIENT_ID,OAUTHS2S_CLIENT_SECRET,"
             "OAUTHS2S_CECREDENTIALS_METASCOPES' not allowed",
             request=lambda: {"__ims_oauth_s2s": _caller_object()}, requests=(0, 0),
             next_call=NextCall.NEW),
    # Input no code path may turn into a 500, nor into a flood of log lines.
    Scenario("a lone surrogate in the client secret", 400,
             "parameter 'OAUTHS2S_CLIENT_SECRET' must be valid Unicode text",
             request=lambda: {"OAUTHS2S_CLIENT_SECRET": f"p8e-{LONE_SURROGATE}-0123456789"},
             requests=(0, 0), next_call=NextCall.NEW),
    Scenario("a lone surrogate in the scopes", 400,
             "parameter 'OAUTHS2S_CECREDENTIALS_METASCOPES' must be valid Unicode text",
             request=lambda: {"OAUTHS2S_CECREDENTIALS_METASCOPES": f"openid,{LONE_SURROGATE}"},
             requests=(0, 0), next_call=NextCall.NEW),
    Scenario("a lone surrogate in __ims_oauth_s2s.scopes", 400,
             "parameter '__ims_oauth_s2s.scopes' must be valid Unicode text",
             deployment=Deployment.APP_BUILDER,
             request=lambda: {"__ims_oauth_s2s": {**_caller_object(),
                                                  "scopes": ["openid", LONE_SURROGATE]}},
             requests=(0, 0), next_call=NextCall.NEW),
    Scenario("debug, a lone surrogate in a parameter's name and value", 200,
             request=lambda: {f"note{LONE_SURROGATE}": LONE_SURROGATE * 10}),
    Scenario("debug, a parameter nested 100,000 deep", 200,
             request=lambda: {"nested": _nested(100_000)}),
    Scenario("debug, a 1 MB parameter", 200, request=lambda: {"blob": "x" * 1_000_000}),
    Scenario("debug, 100,000 parameters", 200,
             request=lambda: {f"p{i}": i for i in range(100_000)}),
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
        with _Capture() as capture, patched_environ(deployment_environment(emulator,
                                                                     scenario.deployment)):
            request = {**params, **scenario.request()}
            if scenario.ims_refused:
                with _refused_url() as url, patched_environ({"IMS_TOKEN_URL": url}):
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
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


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


# --- endpoints refused at configuration -------------------------------------------------------


@dataclass(frozen=True)
class EndpointCase:
    """An endpoint URL in the action's environment, and what the action must make of it.

    ``{port}`` stands for the emulator's port. ``refused`` is how the refusal's
    message starts, after the variable's name (empty: the URL is allowed);
    ``dials`` is the host an allowed URL off loopback must make the HTTP stack
    look up (the lookup is stopped there: nothing leaves the machine).
    """

    variable: str
    url: str
    refused: str = ""
    dials: str = ""

    @property
    def expected(self) -> str:
        if self.refused:
            return "500, nothing sent"
        return f"dials {self.dials}" if self.dials else "200"

    def shown(self) -> str:
        """The URL as the table shows it: escapes for what is invisible or not ASCII."""
        return "".join(c if 0x20 <= ord(c) < 0x7f else ascii(c)[1:-1] for c in self.url)


NOT_PLAIN = "must be a URL of visible ASCII characters"
READ_TWO_WAYS = "is read differently by urllib.parse and urllib3"
NOT_A_HOST = "must name its host as a plain DNS name"
USER_INFO = "must not carry user information"

ENDPOINT_CASES: tuple[EndpointCase, ...] = (
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "https://evil.example\\.adobelogin.com/ims/token/v3",
                 NOT_PLAIN),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "http://evil.example\\@127.0.0.1:{port}/ims/token/v3",
                 NOT_PLAIN),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "https://evil.example\t.adobelogin.com/ims/token/v3",
                 NOT_PLAIN),
    EndpointCase(IMS_TOKEN_URL_VARIABLE,
                 "https://evil.example\u3002adobelogin.com/ims/token/v3", NOT_PLAIN),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "https://evil.example%2e.adobelogin.com/ims/token/v3",
                 READ_TWO_WAYS),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "http://[::1%25lo]:{port}/ims/token/v3", READ_TWO_WAYS),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "http://127.1:{port}/ims/token/v3", NOT_A_HOST),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "https://ims-na1.adobelogin.com./ims/token/v3",
                 NOT_A_HOST),
    EndpointCase(IMS_TOKEN_URL_VARIABLE,
                 "https://ims-na1.adobelogin.com@evil.example/ims/token/v3", USER_INFO),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "http://user@127.0.0.1:{port}/ims/token/v3", USER_INFO),
    EndpointCase(AEM_BASE_URL_VARIABLE, "https://evil.example\\.adobeaemcloud.com", NOT_PLAIN),
    EndpointCase(AEM_BASE_URL_VARIABLE, "https://evil.example%2e.adobeaemcloud.com",
                 READ_TWO_WAYS),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "http://127.0.0.1:{port}/ims/token/v3"),
    EndpointCase(IMS_TOKEN_URL_VARIABLE, "https://ims-na1-stg1.adobelogin.com/ims/token/v3",
                 dials="ims-na1-stg1.adobelogin.com"),
    EndpointCase(AEM_BASE_URL_VARIABLE, "https://author-p1-e2.adobeaemcloud.com",
                 dials="author-p1-e2.adobeaemcloud.com"),
)


class _LookupStopped(Exception):
    """Raised instead of resolving a name off loopback: the bench never leaves the machine."""


@dataclass(frozen=True)
class EndpointObservation:
    case: EndpointCase
    configuration: str  # what AdobeEndpoints.from_env() made of it: "allowed" or its message
    status: int | None
    message: str
    requests: int  # requests the emulator saw
    looked_up: tuple[str, ...]  # names the HTTP stack tried to resolve off loopback

    @property
    def observed(self) -> str:
        if self.looked_up:
            return "dials " + ", ".join(self.looked_up)
        if self.status == 500 and self.requests == 0:
            return "500, nothing sent"
        return str(self.status)

    @property
    def problems(self) -> tuple[str, ...]:
        case, found = self.case, []
        if self.observed != case.expected:
            found.append(f"{self.observed}, not {case.expected}")
        if case.refused:
            expected = f"{case.variable} {case.refused}"
            if not self.configuration.startswith(expected):
                found.append(f"configuration: {self.configuration!r}, not {expected!r}…")
            if self.message != self.configuration:
                found.append(f"answered {self.message!r}, not the configuration's refusal")
        elif self.configuration != "allowed":
            found.append(f"refused at configuration: {self.configuration!r}")
        return tuple(found)


def _host_read_by(parse: Callable[[str], str | None], url: str) -> str:
    try:
        return parse(url) or "(none)"
    except ValueError:  # urllib3's LocationParseError is a ValueError
        return "(refuses it)"


def _urllib3_host(url: str) -> str | None:
    from urllib3.util import parse_url

    return parse_url(url).host


def run_endpoint_case(emulator: AdobeEmulator, case: EndpointCase) -> EndpointObservation:
    """Judge the URL at configuration, then invoke the action with it, resolving nothing
    off loopback. The action's endpoints must already point at ``emulator``."""
    ims.token_cache.clear()
    port = urlsplit(emulator.url).port
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost" and not _is_loopback_address(name):
            looked_up.append(name)
            raise _LookupStopped(name)
        return real_getaddrinfo(host, *args, **kwargs)

    requests_before = emulator.token_requests + emulator.aem_requests
    with patched_environ({case.variable: case.url.format(port=port)}):
        try:
            AdobeEndpoints.from_env()
            configuration = "allowed"
        except ConfigurationError as exc:
            configuration = exc.message
        with _Capture(), _replaced(socket, "getaddrinfo", getaddrinfo):
            result = invoke(emulator, invocation_params(emulator)).result
    error = result.get("error") if isinstance(result, dict) else None
    status = (error or result or {}).get("statusCode") if isinstance(result, dict) else None
    message = (error or {}).get("body", {}).get("error", "") if error else ""
    return EndpointObservation(case, configuration, status, message,
                               emulator.token_requests + emulator.aem_requests - requests_before,
                               tuple(looked_up))


def _is_loopback_address(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_table(observations: Sequence[EndpointObservation]) -> Table:
    from bench.report import Table

    rows = tuple(
        (f"`{o.case.variable}`", f"`{o.case.shown().replace('{port}', 'PORT')}`",
         _host_read_by(lambda url: urlsplit(url).hostname, o.case.url.format(port=1)),
         _host_read_by(_urllib3_host, o.case.url.format(port=1)),
         o.case.expected, o.observed, "ok" if not o.problems else "NO")
        for o in observations)
    return Table(
        "Endpoints: the host checked must be the host dialed",
        ("Variable", "Value", "urllib.parse reads host", "urllib3 reads host", "Expected",
         "Observed", "As documented"),
        rows)


# --- memory under hostile or many credentials --------------------------------------------------

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
        code = f"import bench.faults as f; f.memory_probe({identities})"
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
    from lib._redact import KnownSecrets, known_secrets

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


# --- output ------------------------------------------------------------------------------------


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description="Inject every fault of the hardening suite into the sandbox emulator of "
                    "Adobe IMS and AEM and print, per scenario: the documented status, the "
                    "observed one, the time against the activation deadline, the requests IMS "
                    "and AEM saw, what the next call found in the token cache, a "
                    "secret-leak check and what was logged. Then the endpoint URLs refused at "
                    "configuration, and the memory of a fresh process after many distinct "
                    "rejected secrets and valid identities.",
        epilog="Exit status 0 when everything behaves as documented, 1 otherwise. Nothing "
               "leaves 127.0.0.1; no credentials are needed.")
    p.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    p.add_argument("--quick-tools", action="store_true",
                   help="the tools' faults with a 0.3 s idle timeout instead of the real 15 s")
    p.add_argument("--identities", type=int, default=MEMORY_IDENTITIES, metavar="N",
                   help="distinct rejected secrets, then valid identities, for the memory "
                        f"table (default {MEMORY_IDENTITIES:,}; 0 leaves the table out)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from bench import tool_faults
    from bench.harness import sandbox

    args = parser().parse_args(argv)
    started = time.perf_counter()
    with sandbox() as emulator:
        observations = [run_scenario(emulator, scenario) for scenario in SCENARIOS]
        endpoints = [run_endpoint_case(emulator, case) for case in ENDPOINT_CASES]
    memory = memory_figures(args.identities) if args.identities > 0 else None
    seconds = time.perf_counter() - started
    tools_started = time.perf_counter()
    tools = tool_faults.run_all(quick=args.quick_tools)  # deploy.py and the local server
    tools_seconds = time.perf_counter() - tools_started
    if args.json:
        document = {**json.loads(to_json(observations, endpoints, memory)),
                    "tools": json.loads(tool_faults.to_json(tools))}
        print(json.dumps(document, indent=2))
    else:
        print(markdown(observations, seconds, endpoints, memory), end="")
        print("\n## The tools\n\n" + tool_faults.markdown(tools, tools_seconds), end="")
    failed = (any(o.problems for o in observations) or any(o.problems for o in endpoints)
              or (memory is not None and bool(memory.problems))
              or not all(result.as_documented for result in tools))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
