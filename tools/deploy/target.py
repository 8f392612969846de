"""Where the commands send their requests: the connection options, the credentials, the
values no printed line may show, the console that masks them, and the connection itself.

Every command that reaches OpenWhisk goes through :class:`Target`: it finds the
credentials once (flags, ``AIO_RUNTIME_*``, ``~/.wskprops``), builds the console
that masks the AUTH key and the project's secrets, and asks the server for the
real namespace only when a command needs it.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from lib import http
from lib.redact import KnownSecrets, secret_values
from tools.deploy.client import RETRIES, Client
from tools.deploy.credentials import OWN_NAMESPACE, Credentials, CredentialsError, find_credentials
from tools.deploy.entity_types import ConfigError
from tools.deploy.gateway import has_gateway
from tools.manifest import Manifest
from tools.manifest.model import LIMIT_RANGES
from tools.runtimes import RUNTIMES, family, runtime
from tools.runtimes.kinds import BLACKBOX, REQUIRES_MAIN
from tools.terminal import escape_controls, is_terminal


@dataclass(frozen=True)
class Connection:
    """Where OpenWhisk is and who we are; the flags win over ``AIO_RUNTIME_*`` and
    ``~/.wskprops``."""

    apihost: str | None = None
    auth: str | None = field(default=None, repr=False)
    namespace: str | None = None
    allow_http: bool = False  # an http:// APIHOST off loopback: the AUTH key in clear
    retry: http.RetryPolicy = RETRIES


def credentials_for(env: Mapping[str, str], connection: Connection, *,
                    optional: bool = False) -> Credentials | None:
    """The target's credentials; None when ``optional`` (a dry run) and none are configured."""
    try:
        return find_credentials(env, apihost=connection.apihost, auth=connection.auth,
                                namespace=connection.namespace,
                                allow_http=connection.allow_http, shell=os.environ)
    except CredentialsError:
        if optional:
            return None
        raise


class Console:
    """Lines for the user, with every known secret value masked and, unless ``raw`` output
    goes elsewhere than a terminal, every control character escaped."""

    def __init__(self, out: TextIO | None, secrets: KnownSecrets) -> None:
        self.out = out or sys.stdout
        self.secrets = secrets
        self.raw = False  # --raw: bytes as they are, where no terminal interprets them

    def line(self, text: str) -> None:
        text = self.secrets.mask(text)
        if not self.raw or is_terminal(self.out):
            text = escape_controls(text)
        print(text, file=self.out, flush=True)

    def masked(self, value: Any) -> Any:
        """``value`` with known secrets masked in every string, keys too (before any JSON
        encoding, which would escape a quote inside a secret)."""
        mask = self.secrets.mask
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, dict):
            return {mask(str(key)): self.masked(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.masked(item) for item in value]
        return value


class _EverySecret(KnownSecrets):
    """A tool's mask list: a project's secrets are few, and none may drop out, least of all
    the AUTH key (the action's list is bounded against hostile callers; a manifest is not)."""

    MAX_ENTRIES = sys.maxsize
    MAX_CHARS = sys.maxsize


def project_secrets(manifest: Manifest | None, credentials: Credentials | None) -> KnownSecrets:
    """The values no printed line may show: the AUTH key (as typed, its key half, and in
    base64 as a Basic header carries it), and every secret-named input or annotation (a
    string ``require-whisk-auth`` is a password)."""
    secrets = _EverySecret()
    if credentials is not None:
        secrets.add(credentials.auth)
        secrets.add(credentials.basic_auth[1])
        secrets.add(base64.b64encode(credentials.auth.encode("latin-1")).decode())
        if credentials.apigw_token:
            secrets.add(credentials.apigw_token)
    if manifest is None:
        return secrets
    values: list[dict[str, Any]] = [
        *(entity.inputs for entity in (*manifest.packages, *manifest.actions(),
                                       *manifest.triggers, *manifest.bindings)),
        *(entity.annotations for entity in (*manifest.packages, *manifest.actions(),
                                            *manifest.sequences(), *manifest.triggers,
                                            *manifest.bindings)),
        *(trigger.feed_inputs for trigger in manifest.triggers)]
    for value in (found for mapping in values for found in secret_values(mapping)):
        secrets.add(value)
    return secrets


class Target:
    """A server to talk to: its credentials, a client, a masking console, the namespace."""

    def __init__(self, credentials: Credentials, manifest: Manifest | None,
                 connection: Connection, out: TextIO | None = None, *,
                 console: Console | None = None) -> None:
        self.credentials = credentials
        self.manifest = manifest
        self.console = console or Console(out, project_secrets(manifest, credentials))
        self.client = Client(credentials, policy=connection.retry)
        self._namespace: str | None = None

    @classmethod
    def find(cls, env: Mapping[str, str], manifest: Manifest | None, connection: Connection,
             out: TextIO | None = None) -> Target:
        credentials = credentials_for(env, connection)
        assert credentials is not None  # not optional: none found is an error
        return cls(credentials, manifest, connection, out)

    @property
    def namespace(self) -> str:
        """The real namespace, which web URLs and fully qualified names need (``_`` is only
        an alias in REST paths). Asked before any PUT, so wrong credentials stop a deploy
        first."""
        if self._namespace is None:
            self._namespace = (self.credentials.namespace
                               if self.credentials.namespace != OWN_NAMESPACE
                               else self.client.namespace())
        return self._namespace

    def connect(self) -> str:
        """Checks that the server runs the manifest's kinds and allows its limits, with the
        server's default kinds standing in where the manifest names only a family (then in
        :attr:`manifest`); the real namespace."""
        if self.manifest is not None:
            self.manifest = preflight(self.client, self.manifest)
        return self.namespace

    def described(self) -> str:
        return (f"{self.credentials.apihost}, namespace {self.namespace} (credentials from "
                f"{self.credentials.source})")


def preflight(client: Client, manifest: Manifest) -> Manifest:
    """What the server must allow before anything is sent: each action's kind and limits;
    the manifest with the server's default kinds for the families it names alone."""
    server = client.server()
    manifest = manifest.with_default_kinds(server.defaults)
    for action in manifest.actions():
        kind_family = family(action.kind)
        if action.kind not in server.kinds and action.kind != BLACKBOX:  # docker: any server
            same = ", ".join(sorted(k for k in server.kinds if family(k) == kind_family))
            label = runtime(action.kind).label if kind_family in RUNTIMES else kind_family
            raise ConfigError(f"action {action.qualified_name}: {client.credentials.apihost} "
                              f"does not run {action.kind} (its {label} kinds: "
                              f"{same or 'none'}); change runtime in the manifest")
        if not runtime(action.kind).supports(action.kind):
            raise ConfigError(f"action {action.qualified_name}: the server's default "
                              f"{kind_family} kind is {action.kind}, and this tool deploys "
                              f"{runtime(action.kind).described}; name a kind in the manifest")
    needs_main = [action.qualified_name for action in manifest.actions()
                  if family(action.kind) in REQUIRES_MAIN and not action.main]
    if needs_main:
        raise ConfigError(f"{', '.join(needs_main)}: no main; the server runs "
                          f"{'/'.join(REQUIRES_MAIN)} actions only with the class (and method) "
                          "to call: give main in the manifest")
    check_limits(manifest, {**LIMIT_RANGES, **server.ranges})
    if manifest.routes() and not has_gateway(client):
        raise ConfigError(f"{client.credentials.apihost} has no API gateway (the "
                          "/whisk.system/apimgmt actions that wsk api calls answer 404), so the "
                          "manifest's apis: cannot be deployed there; remove them, or deploy to "
                          "an OpenWhisk with its API gateway installed")
    return manifest


def check_limits(manifest: Manifest, ranges: Mapping[str, tuple[int, int, str]] = LIMIT_RANGES
                 ) -> None:
    """ConfigError naming each limit the manifest sets outside ``ranges`` (stock OpenWhisk's
    unless a server reported its own)."""
    problems = [problem for action in manifest.actions()
                for problem in action.limits.outside(dict(ranges))]
    if problems:
        raise ConfigError("\n".join(f"{manifest.path}: {problem}" for problem in problems))
