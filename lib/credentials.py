"""OAuth Server-to-Server credentials and org id: where they are read from, checked.

The identity is four fields: ``OAUTHS2S_CLIENT_ID``, ``OAUTHS2S_CLIENT_SECRET``,
``OAUTHS2S_CECREDENTIALS_METASCOPES`` and ``IMS_ORG_ID``. Each is read from the
first of these that has it:

1. the process environment, where OpenWhisk puts an action's *init*
   parameters (they never appear in an activation's arguments);
2. the ``__ims_oauth_s2s`` object that App Builder's
   ``include-ims-credentials`` annotation injects (``client_id``,
   ``client_secret``, ``scopes``, ``org_id``);
3. the parameters, as the tutorial defines them.

The action cannot tell a parameter the deployment defined from one a web
caller added (under ``final`` a caller cannot replace a defined parameter, but
can add any other). So once the deployment supplies the identity through the
environment or ``__ims_oauth_s2s``, an identity field among the parameters is
refused (400, naming it), whoever put it there: a caller can neither choose
the org nor try client secrets against IMS through the action. With neither,
the four parameters are the identity, protected by ``final``.

``IMS_TOKEN_STORE_URL`` (where the fleet shares its tokens, lib/_store_env.py)
is read from the environment only, and among the parameters it is always
refused: a caller must not point the tokens at a Redis of its choosing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib._store_env import STORE_URL_VARIABLE
from lib.errors import BadRequest
from lib.ims import S2SCredentials
from lib.params import is_missing, lookup
from lib.redact import known_secrets

CLIENT_ID = "OAUTHS2S_CLIENT_ID"
CLIENT_SECRET = "OAUTHS2S_CLIENT_SECRET"  # noqa: S105 - a parameter name
SCOPES = "OAUTHS2S_CECREDENTIALS_METASCOPES"
ORG_ID = "IMS_ORG_ID"
APP_BUILDER_CREDENTIALS = "__ims_oauth_s2s"
IDENTITY_FIELDS = (ORG_ID, CLIENT_ID, CLIENT_SECRET, SCOPES)  # in the order messages name them

_APP_BUILDER_FIELDS = {CLIENT_ID: "client_id", CLIENT_SECRET: "client_secret", SCOPES: "scopes",
                       ORG_ID: "org_id"}
_ABSENT = object()


class AdobeIdentity(NamedTuple):
    credentials: S2SCredentials
    org_id: str


def identity_from_params(params: Mapping[str, Any],
                         environ: Mapping[str, str] | None = None) -> AdobeIdentity:
    """The credentials and org to act as; BadRequest names each missing or invalid input.

    ``environ`` is the process environment unless given (a test's).
    """
    if STORE_URL_VARIABLE in params:  # where tokens are shared: the deployment's choice only
        raise BadRequest(f"parameter '{STORE_URL_VARIABLE}' not allowed: the token store is set "
                         "by the deployment, as an init parameter (environment variable)")
    inputs = _inputs(params, os.environ if environ is None else environ)
    missing = [path for path, value in inputs.values() if value is _ABSENT]
    if missing:
        raise BadRequest(f"missing parameter(s) '{','.join(missing)}'")
    path = {name: where for name, (where, _) in inputs.items()}
    value = {name: given for name, (_, given) in inputs.items()}
    for name in (ORG_ID, CLIENT_ID):
        if not isinstance(value[name], str) or not _header_safe(value[name]):
            raise BadRequest(
                f"parameter '{path[name]}' must be a string of visible ASCII characters")
    if not isinstance(value[CLIENT_SECRET], str):
        raise BadRequest(f"parameter '{path[CLIENT_SECRET]}' must be a string")
    _check_encodable(value[CLIENT_SECRET], path[CLIENT_SECRET])
    known_secrets.add(value[CLIENT_SECRET])  # masked in every log line from here on
    return AdobeIdentity(
        S2SCredentials(value[CLIENT_ID], value[CLIENT_SECRET],
                       _scopes(value[SCOPES], path[SCOPES])),
        value[ORG_ID],
    )


def _header_safe(text: str) -> bool:
    """Visible ASCII only (\\x21-\\x7e, no space), as ids travel in HTTP headers: none can be
    split or forged. String methods rather than a pattern: nothing to compile at import."""
    return bool(text) and text.isascii() and text.isprintable() and " " not in text


def _inputs(params: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    """Each identity field: where it is read from (as messages name it) and its value."""
    from_env = {name: environ[name] for name in IDENTITY_FIELDS if environ.get(name)}
    injected = params.get(APP_BUILDER_CREDENTIALS)
    if not from_env and injected is None:  # the tutorial's inputs, protected by `final`
        return {name: (name, _read(params, name)) for name in IDENTITY_FIELDS}
    if injected is not None and not isinstance(injected, Mapping):
        raise BadRequest(f"parameter '{APP_BUILDER_CREDENTIALS}' must be an object")
    given = [name for name in IDENTITY_FIELDS if name in params]
    if given:
        sources = " and ".join(source for source, used in (
            ("the environment (init parameters)", from_env),
            (APP_BUILDER_CREDENTIALS, injected is not None)) if used)
        raise BadRequest(f"parameter(s) '{','.join(given)}' not allowed: the deployment "
                         f"supplies the credentials and org through {sources}")
    inputs: dict[str, tuple[str, Any]] = {}
    for name in IDENTITY_FIELDS:
        field = _APP_BUILDER_FIELDS[name]
        if name in from_env:
            inputs[name] = (name, _from_environment(name, from_env[name]))
        elif injected is not None and (name != ORG_ID or not is_missing(injected, field)):
            inputs[name] = (f"{APP_BUILDER_CREDENTIALS}.{field}", _read(injected, field))
        else:  # named as the parameter to set (as an init parameter, beside __ims_oauth_s2s)
            inputs[name] = (name, _ABSENT)
    return inputs


def _from_environment(name: str, value: str) -> Any:
    """An init parameter as the action sees it: a string as given; a list of scopes arrives
    as the JSON text the runtime exports for any value that is not a string."""
    if name == SCOPES and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value  # refused below: not a list of strings
    return value


def _read(container: Mapping[str, Any], key: str) -> Any:
    """The value at ``key``, or _ABSENT when it is missing (absent or ``""``, as in Node)."""
    return _ABSENT if is_missing(container, key) else lookup(container, key)


def _check_encodable(value: str, path: str) -> None:
    """Text that UTF-8 cannot encode (a lone surrogate) cannot be sent: a 400, not a crash."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"parameter '{path}' must be valid Unicode text (it holds a lone "
                         "surrogate)") from None


def _scopes(value: Any, path: str) -> tuple[str, ...]:
    """Scopes from a comma-separated string or a list of strings, blanks dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise BadRequest(f"parameter '{path}' must be a comma-separated string or a list of "
                         "strings")
    for item in items:
        _check_encodable(item, path)
    scopes = tuple(item.strip() for item in items if item.strip())
    if not scopes:
        raise BadRequest(f"parameter '{path}' names no scope")
    return scopes
