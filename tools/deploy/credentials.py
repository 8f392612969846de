"""The OpenWhisk credentials to deploy with, from where users already keep them.

Command-line flags, App Builder's ``AIO_RUNTIME_*`` variables (shell or
``.env``), or the ``wsk`` CLI's ``~/.wskprops`` (``$WSK_CONFIG_FILE``).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lib.endpoints import is_loopback
from tools.errors import ToolError
from tools.textfile import read_env_file

AIO_DEFAULT_APIHOST = "https://adobeioruntime.net"
OWN_NAMESPACE = "_"  # in REST paths, the namespace the AUTH key belongs to
APIGW_TOKEN = "APIGW_ACCESS_TOKEN"  # noqa: S105 - the variable's name, as wsk names it
# What may follow ``scheme://``: a DNS name, an IPv4 or a bracketed IPv6 address, and a port.
_HOST_AND_PORT = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


class CredentialsError(ToolError):
    """No usable OpenWhisk credentials; the message says where they are looked for."""


@dataclass(frozen=True)
class Credentials:
    apihost: str  # scheme://host[:port], no trailing slash
    auth: str = field(repr=False)  # uuid:key
    namespace: str
    source: str  # where they came from, for the report
    # The API gateway's access token, where wsk reads it (APIGW_ACCESS_TOKEN in the shell or
    # .env, else in ~/.wskprops); None: wsk's placeholder is sent.
    apigw_token: str | None = field(default=None, repr=False)

    @property
    def basic_auth(self) -> tuple[str, str]:
        user, _, key = self.auth.partition(":")
        return user, key


@dataclass(frozen=True)
class _Source:
    name: str
    apihost: str | None = None
    auth: str | None = field(default=None, repr=False)
    namespace: str | None = None
    host_from: str = ""  # where the APIHOST and the key came from, when not ``name``
    key_from: str = ""


def find_credentials(
    env: Mapping[str, str],
    *,
    apihost: str | None = None,
    auth: str | None = None,
    namespace: str | None = None,
    allow_http: bool = False,
    shell: Mapping[str, str] | None = None,
) -> Credentials:
    """Flags first, then ``AIO_RUNTIME_*``, then ``$WSK_CONFIG_FILE`` or ``~/.wskprops``.

    The host and the key come from one place, so an AUTH key is never sent to an APIHOST
    that came from somewhere else: both flags, both ``AIO_RUNTIME_*`` of the shell or both
    of ``.env`` (``shell`` tells them apart: the shell's variables, which ``env`` holds
    over ``.env``'s), or one ``.wskprops``. ``--namespace`` may come with any of them.
    """
    base = _aio_source(env, shell) or _wskprops_source(env) or _Source("")
    chosen = _Source("", apihost or base.apihost, auth or base.auth, namespace or base.namespace)
    used = [flag for flag, given in (("--apihost", apihost), ("--auth", auth),
                                     ("--namespace", namespace)) if given]
    if base.name and not (apihost and auth and namespace):
        used.append(base.name)
    source = ", ".join(used) or "nowhere"
    where = (f"looked in {source}; pass --apihost/--auth, set AIO_RUNTIME_APIHOST/"
             "AIO_RUNTIME_AUTH in .env or the shell, or write APIHOST/AUTH in ~/.wskprops")
    if not chosen.auth:
        raise CredentialsError(f"no OpenWhisk AUTH key found ({where})")
    if not chosen.apihost:
        raise CredentialsError(f"no OpenWhisk APIHOST found ({where})")
    host_from = "--apihost" if apihost else base.host_from or base.name
    key_from = "--auth" if auth else base.key_from or base.name
    if not (apihost and auth) and host_from != key_from:
        raise CredentialsError(f"the APIHOST comes from {host_from} and the AUTH key from "
                               f"{key_from}: give both in one place (--apihost with --auth, "
                               "AIO_RUNTIME_APIHOST with AIO_RUNTIME_AUTH in .env or in the "
                               "shell, or APIHOST with AUTH in ~/.wskprops), so the key goes "
                               "only to the host it is for")
    user, _, key = chosen.auth.partition(":")
    if not chosen.auth.isascii():  # HTTP Basic credentials travel as Latin-1 at most
        raise CredentialsError(f"the AUTH key from {source} has characters other than ASCII")
    if not user or not key:
        raise CredentialsError(f"the AUTH key from {source} is not of the form uuid:key")
    return Credentials(normal_apihost(chosen.apihost, allow_http=allow_http), chosen.auth,
                       chosen.namespace or OWN_NAMESPACE, source,
                       env.get(APIGW_TOKEN) or _wskprops_token(env))


def normal_apihost(apihost: str, *, allow_http: bool = False) -> str:
    """``scheme://host[:port]``; a bare host means https, as the wsk CLI has it. Plain http
    would carry the AUTH key in clear: only to loopback, unless ``allow_http``.

    Anything but a host and a port after the scheme is refused, even when a URL parser
    drops it quietly (an empty ``?`` or ``#``, a lone ``@``, a blank inside, an empty port):
    the value is pasted in front of every REST and web URL as it is.
    """
    value = apihost.strip().rstrip("/")
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
    except ValueError:  # a bracket left open
        raise CredentialsError(f"APIHOST {_shown(apihost)} is not a host or an http(s) URL "
                               "of one (an IPv6 address needs both brackets)") from None
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise CredentialsError(f"APIHOST {_shown(apihost)} has an invalid port") from None
    rest = value.partition("://")[2]
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or rest != parts.netloc or not _HOST_AND_PORT.fullmatch(rest)):
        raise CredentialsError(f"APIHOST {_shown(apihost)} is not a host or an http(s) URL of "
                               "one (no path, query or fragment)")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_http:
        raise CredentialsError(f"APIHOST {_shown(apihost)} is plain http: the AUTH key would "
                               "cross the network in clear. Use https, or pass --allow-http "
                               "if this network is yours")
    return value


def _shown(apihost: str) -> str:
    """The APIHOST for a message, unless it carries user:key (``https://uuid:key@host``)."""
    return "<hidden>" if "@" in apihost else repr(apihost)


def _aio_source(env: Mapping[str, str], shell: Mapping[str, str] | None) -> _Source | None:
    names = ("AIO_RUNTIME_APIHOST", "AIO_RUNTIME_AUTH", "AIO_RUNTIME_NAMESPACE")
    if not any(env.get(name) for name in names):
        return None

    def place(name: str) -> str:
        """Where a variable came from, when ``shell`` tells ("" when it does not)."""
        if shell is None or not env.get(name):
            return ""
        return "the shell" if shell.get(name) == env.get(name) else ".env"

    key_place = place("AIO_RUNTIME_AUTH")
    host_place = place("AIO_RUNTIME_APIHOST") or key_place  # the default host goes with it
    name = f"AIO_RUNTIME_* ({key_place or host_place or 'shell or .env'})"
    mixed = bool(key_place) and host_place != key_place
    return _Source(name, env.get("AIO_RUNTIME_APIHOST") or AIO_DEFAULT_APIHOST,
                   env.get("AIO_RUNTIME_AUTH"), env.get("AIO_RUNTIME_NAMESPACE"),
                   f"AIO_RUNTIME_APIHOST in {host_place}" if mixed else "",
                   f"AIO_RUNTIME_AUTH in {key_place}" if mixed else "")


def _wskprops(env: Mapping[str, str]) -> tuple[pathlib.Path, dict[str, str]] | None:
    """``$WSK_CONFIG_FILE`` or ``~/.wskprops``, and its values, when there is one."""
    configured = env.get("WSK_CONFIG_FILE")
    path = pathlib.Path(configured) if configured else pathlib.Path.home() / ".wskprops"
    if not path.is_file():
        if configured:
            raise CredentialsError(f"WSK_CONFIG_FILE names {configured}, which does not exist")
        return None
    return path, read_env_file(path, CredentialsError)


def _wskprops_source(env: Mapping[str, str]) -> _Source | None:
    found = _wskprops(env)
    if found is None:
        return None
    path, values = found
    return _Source(str(path), values.get("APIHOST"), values.get("AUTH"), values.get("NAMESPACE"))


def _wskprops_token(env: Mapping[str, str]) -> str | None:
    found = _wskprops(env)
    return found[1].get(APIGW_TOKEN) if found else None

