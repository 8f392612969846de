"""Where credentials may be sent: Adobe's hosts, or a loopback test double.

Endpoints come from the process environment only, never from parameters: a
web caller can add any parameter the deployment did not define, and must not
be able to point the client secret or the token at a host of its choosing.

A URL is judged by the host the HTTP stack will dial: the one urllib3 (under
``requests``) reads from it. Python's ``urllib.parse`` must read the same
scheme, host and port, or the URL is refused, because two parsers that
disagree are how a check is made to pass for one host while the request goes
to another (``https://evil.example\\.adobelogin.com``: urllib.parse reads a
host ending in ``.adobelogin.com``, urllib3 dials ``evil.example``). So the
URL must be plain: visible ASCII, no backslash, no user information, and a
host that is a DNS name of letters, digits and hyphens, or an IP literal.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from lib.errors import ConfigurationError

# The environment variables that may point the clients elsewhere (a loopback test double).
IMS_TOKEN_URL_VARIABLE = "IMS_TOKEN_URL"  # noqa: S105 - a variable name
AEM_BASE_URL_VARIABLE = "AEM_API_BASE_URL"
ENDPOINT_VARIABLES = (IMS_TOKEN_URL_VARIABLE, AEM_BASE_URL_VARIABLE)
IMS_TOKEN_PATH = "/ims/token/v3"  # noqa: S105 - a URL path
DEFAULT_IMS_TOKEN_URL = "https://ims-na1.adobelogin.com" + IMS_TOKEN_PATH
DEFAULT_AEM_BASE_URL = "https://api.adobeaemcloud.com"
IMS_HOST_SUFFIXES = (".adobelogin.com",)
AEM_HOST_SUFFIXES = (".adobeaemcloud.com",)

# The patterns are compiled on first use (re keeps them), not at import: a container judges
# its endpoints once, in its first call.
# Visible ASCII only: no space, tab, newline or other control character, nothing non-ASCII
# (which IDNA would map onto other characters), and no backslash (a path separator to some
# parsers, part of the host to others).
_PLAIN_URL = r"[\x21-\x5b\x5d-\x7e]+"
# A DNS name of LDH labels (letters, digits, hyphens; no hyphen at either end), no trailing dot.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_NAME = rf"{_LABEL}(?:\.{_LABEL})*"
# A last label that reads as a number makes the whole name an IPv4 address to the resolver
# (127.1, 0x7f.1, 2130706433 all dial 127.0.0.1): then it must be one, written plainly.
_NUMERIC_LABEL = r"[0-9]+|0x[0-9a-f]*"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_plain_host(host: str) -> bool:
    """A DNS name of LDH labels, a dotted-quad IPv4 address or a bracketed IPv6 address."""
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        if "%" in inner:  # a zone id: an interface, not a host
            return False
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return False
        return True
    if len(host) > 253 or not re.fullmatch(_DNS_NAME, host):
        return False
    if re.fullmatch(_NUMERIC_LABEL, host.rsplit(".", 1)[-1]):
        try:
            return str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            return False
    return True


class _Reading(NamedTuple):
    """What one parser reads: scheme, host (lower case, IPv6 in brackets), port, user info."""

    scheme: str
    host: str
    port: int | None
    has_userinfo: bool


def _stdlib_reading(url: str) -> _Reading:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return _Reading(parts.scheme.lower(), host, parts.port, "@" in parts.netloc)


def _urllib3_reading(url: str) -> _Reading:
    parts = parse_url(url)
    return _Reading((parts.scheme or "").lower(), (parts.host or "").lower(), parts.port,
                    parts.auth is not None)


def checked_url(variable: str, default: str, host_suffixes: tuple[str, ...]) -> str:
    """``$variable`` or ``default``; refused unless https on an allowed host, or loopback."""
    return _judged(variable, os.environ.get(variable) or default, host_suffixes)


@functools.lru_cache(maxsize=32)  # every invocation asks; the answer for a URL never changes
def _judged(variable: str, url: str, host_suffixes: tuple[str, ...]) -> str:
    # No message quotes the URL: it may hold a password, and a 500 reaches the caller.
    if not re.fullmatch(_PLAIN_URL, url):
        raise ConfigurationError(
            f"{variable} must be a URL of visible ASCII characters, without spaces, control "
            "characters or backslashes")
    try:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ConfigurationError(
                f"{variable} must be an https URL (plain http is allowed only on loopback)")
        stdlib = _stdlib_reading(url)
        given = _urllib3_reading(url)
        # What the adapter parses in the end: the URL as requests prepares it.
        dialed = _urllib3_reading(requests.Request("GET", url).prepare().url or "")
    except (ValueError, LocationParseError, requests.RequestException):
        raise ConfigurationError(f"{variable} is not a valid URL") from None
    if stdlib.has_userinfo or given.has_userinfo or dialed.has_userinfo:
        raise ConfigurationError(f"{variable} must not carry user information (user@host)")
    if not stdlib == given == dialed:
        raise ConfigurationError(
            f"{variable} is read differently by urllib.parse and urllib3 (scheme, host or "
            "port): refused, as the host checked would not be the host dialed")
    if not is_plain_host(dialed.host):
        raise ConfigurationError(
            f"{variable} must name its host as a plain DNS name (letters, digits, hyphens) or "
            "an IP literal")
    if is_loopback(dialed.host.strip("[]")):
        return url
    if dialed.scheme != "https":
        raise ConfigurationError(
            f"{variable} must be an https URL (plain http is allowed only on loopback)")
    if not dialed.host.endswith(host_suffixes):
        raise ConfigurationError(
            f"{variable} must point at a host ending in {' or '.join(host_suffixes)}")
    return url


class AdobeEndpoints(NamedTuple):
    ims_token_url: str
    aem_base_url: str

    @classmethod
    def from_env(cls) -> AdobeEndpoints:
        return cls(
            ims_token_url=checked_url(IMS_TOKEN_URL_VARIABLE, DEFAULT_IMS_TOKEN_URL,
                                      IMS_HOST_SUFFIXES),
            aem_base_url=checked_url(AEM_BASE_URL_VARIABLE, DEFAULT_AEM_BASE_URL,
                                     AEM_HOST_SUFFIXES),
        )
