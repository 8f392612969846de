"""Endpoint URLs refused at configuration: the host ``AdobeEndpoints`` checks must be the host
the HTTP stack dials (ENDPOINT_CASES), each judged, then used for a call that resolves nothing
off loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bench.faults.capture import Capture
from bench.faults.run import invocation_params, invoke
from lib import ims
from lib.endpoints import AEM_BASE_URL_VARIABLE, IMS_TOKEN_URL_VARIABLE, AdobeEndpoints
from lib.errors import ConfigurationError
from tools.local.runner import patched_environ
from tools.sandbox import AdobeEmulator

if TYPE_CHECKING:
    from bench.report import Table


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
        with Capture(), _replaced(socket, "getaddrinfo", getaddrinfo):
            result = invoke(emulator, invocation_params(emulator)).result
    error = result.get("error") if isinstance(result, dict) else None
    status = (error or result or {}).get("statusCode") if isinstance(result, dict) else None
    message = (error or {}).get("body", {}).get("error", "") if error else ""
    return EndpointObservation(case, configuration, status, message,
                               emulator.token_requests + emulator.aem_requests - requests_before,
                               tuple(looked_up))


@contextlib.contextmanager
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


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

