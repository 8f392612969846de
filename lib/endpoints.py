"""Where credentials may be sent: Adobe's hosts, or a loopback test double.

Endpoints come from the process environment only, never from parameters: a
web caller can add any parameter the deployment did not define, and must not
be able to point the client secret or the token at a host of its choosing.
"""

from __future__ import annotations

import ipaddress
import os
from typing import NamedTuple
from urllib.parse import urlsplit

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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(variable: str, default: str, host_suffixes: tuple[str, ...]) -> str:
    """``$variable`` or ``default``; refused unless https on an allowed host, or loopback."""
    url = os.environ.get(variable) or default
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if is_loopback(host) and parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "https":
        raise ConfigurationError(
            f"{variable} must be an https URL (plain http is allowed only on loopback)")
    if not host.endswith(host_suffixes) or parts.username or parts.password:
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
