"""The fault scenarios: each fault or hostile request, and the answer the action documents
for it. tests/test_faults.py runs the same SCENARIOS as the table."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lib.web import MAX_PAYLOAD_BYTES
from tools.sandbox import ABSENT, Fault

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
        return status_text(self.status, self.retry_after)


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


def status_text(status: int | None, retry_after: str | None) -> str:
    text = str(status)
    return f"{text}, Retry-After {retry_after}" if retry_after is not None else text

