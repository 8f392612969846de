"""Whether this container shares its IMS tokens with the fleet: ``IMS_TOKEN_STORE_URL``.

The URL is a deployment input, like the credentials: an init parameter (an
environment variable to the action) or the developer's environment, never a
request parameter (lib/credentials.py refuses one). Unset, nothing of the
store is imported: redis-py and ``cryptography`` load only when it is set (with
the action, see preload), and if either is missing the store is disabled with
one warning; no token is ever written unsealed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lib.log import fields
from lib.redact import known_secrets

if TYPE_CHECKING:
    from lib._shared_tokens import SharedTokens

STORE_URL_VARIABLE = "IMS_TOKEN_STORE_URL"

log = logging.getLogger(__name__)
_missing_said: set[str] = set()  # the missing modules already warned about


def shared_store() -> SharedTokens | None:
    """The shared token store, or None when none is configured or it cannot be used."""
    url = os.environ.get(STORE_URL_VARIABLE)
    if not url:
        return None
    register_password(url)
    try:
        from lib._shared_tokens import shared_tokens  # redis-py and cryptography, only now
    except ImportError as exc:
        missing = (exc.name or "a module").partition(".")[0]  # the package to install
        if missing not in _missing_said:
            _missing_said.add(missing)
            log.warning("shared token store disabled: %s cannot be imported; minting without "
                        "it (no token is ever stored unsealed)", missing,
                        extra=fields(missing_module=missing))
        return None
    return shared_tokens(url)


def preload() -> None:
    """With a store configured, its modules load with the action (OpenWhisk's /init), not
    inside the first call; a missing one is reported when the first call needs the store."""
    if os.environ.get(STORE_URL_VARIABLE):
        with contextlib.suppress(ImportError):
            import lib._shared_tokens  # noqa: F401 - imported for its cost, now


def store_name(url: str) -> str:
    """How logs name the store: scheme, host, port and database, never the user or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the token store (IMS_TOKEN_STORE_URL does not parse)"
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def register_password(url: str) -> None:
    """Mask the URL's password (and the URL) in every log line from here on."""
    known_secrets.add(url)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        known_secrets.add(password)
