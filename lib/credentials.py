"""OAuth Server-to-Server credentials and org id, read and checked from action parameters.

Two sources, as App Builder users have them: the tutorial's inputs
(``OAUTHS2S_CLIENT_ID``, ``OAUTHS2S_CLIENT_SECRET``,
``OAUTHS2S_CECREDENTIALS_METASCOPES``, ``IMS_ORG_ID``), or, when none of the
three ``OAUTHS2S_*`` is given, the ``__ims_oauth_s2s`` object that App
Builder's ``include-ims-credentials`` annotation injects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from lib._redact import known_secrets
from lib.errors import BadRequest
from lib.ims import S2SCredentials
from lib.params import is_missing, lookup, missing_inputs_message

CLIENT_ID = "OAUTHS2S_CLIENT_ID"
CLIENT_SECRET = "OAUTHS2S_CLIENT_SECRET"  # noqa: S105 - a parameter name
SCOPES = "OAUTHS2S_CECREDENTIALS_METASCOPES"
ORG_ID = "IMS_ORG_ID"
APP_BUILDER_CREDENTIALS = "__ims_oauth_s2s"

_APP_BUILDER_FIELDS = {CLIENT_ID: "client_id", CLIENT_SECRET: "client_secret", SCOPES: "scopes",
                       ORG_ID: "org_id"}
_REQUIRED = (ORG_ID, CLIENT_ID, CLIENT_SECRET, SCOPES)
# Ids travel in HTTP headers: visible ASCII only, so no header can be split or forged.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


class AdobeIdentity(NamedTuple):
    credentials: S2SCredentials
    org_id: str


def identity_from_params(params: Mapping[str, Any]) -> AdobeIdentity:
    """The credentials and org to act as; BadRequest names each missing or invalid input."""
    paths = _input_paths(params)
    message = missing_inputs_message(params, [paths[name] for name in _REQUIRED])
    if message:
        raise BadRequest(message)
    value = {name: lookup(params, path) for name, path in paths.items()}
    for name in (ORG_ID, CLIENT_ID):
        if not isinstance(value[name], str) or not _HEADER_SAFE.fullmatch(value[name]):
            raise BadRequest(
                f"parameter '{paths[name]}' must be a string of visible ASCII characters")
    if not isinstance(value[CLIENT_SECRET], str):
        raise BadRequest(f"parameter '{paths[CLIENT_SECRET]}' must be a string")
    known_secrets.add(value[CLIENT_SECRET])  # masked in every log line from here on
    return AdobeIdentity(
        S2SCredentials(value[CLIENT_ID], value[CLIENT_SECRET],
                       _scopes(value[SCOPES], paths[SCOPES])),
        value[ORG_ID],
    )


def _input_paths(params: Mapping[str, Any]) -> dict[str, str]:
    """Where each input is read from: its own parameter, or a field of ``__ims_oauth_s2s``."""
    paths = {name: name for name in _REQUIRED}
    injected = params.get(APP_BUILDER_CREDENTIALS)
    if injected is None:
        return paths
    direct = (CLIENT_ID, CLIENT_SECRET, SCOPES)
    if all(is_missing(params, name) for name in direct):
        if not isinstance(injected, Mapping):
            raise BadRequest(f"parameter '{APP_BUILDER_CREDENTIALS}' must be an object")
        paths.update({name: f"{APP_BUILDER_CREDENTIALS}.{_APP_BUILDER_FIELDS[name]}"
                      for name in direct})
    if (is_missing(params, ORG_ID) and isinstance(injected, Mapping)
            and not is_missing(injected, "org_id")):
        paths[ORG_ID] = f"{APP_BUILDER_CREDENTIALS}.org_id"
    return paths


def _scopes(value: Any, path: str) -> tuple[str, ...]:
    """Scopes from a comma-separated string or a list of strings, blanks dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        items = list(value)
    else:
        raise BadRequest(f"parameter '{path}' must be a comma-separated string or a list of "
                         "strings")
    scopes = tuple(item.strip() for item in items if item.strip())
    if not scopes:
        raise BadRequest(f"parameter '{path}' names no scope")
    return scopes
