"""A test client for local runs: the manifest's actions, called in this process as deployed.

One path serves ``python -m actions.<name>``, ``--serve`` and the tests::

    with LocalClient(sandbox=True) as client:  # an emulator of IMS and AEM: no credentials
        activation = client.invoke("dx-excshell-1/generic", {"current": "false"})
    assert activation.ok and activation.result["statusCode"] == 200

Parameters come from the manifest and ``.env`` (the shell wins) through the
resolver deploy.py uses. Every secret-named value is registered for masking, so
nothing printed from here on shows it.
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Mapping
from typing import Any

from lib.credentials import CLIENT_ID, CLIENT_SECRET, ORG_ID, SCOPES
from lib.redact import known_secrets, secret_values
from tools.local.runner import (
    Activation,
    LocalAction,
    configured_namespace,
    find_action,
    invoke,
    local_action,
)
from tools.manifest import Action, Manifest, default_manifest
from tools.project import DEFAULT_ENV_FILE, ProjectSource
from tools.runtimes import runtime
from tools.sandbox import AdobeEmulator

# The inputs --sandbox supplies itself; their $VARs need not be set.
SANDBOX_INPUTS = (CLIENT_ID, CLIENT_SECRET, SCOPES, ORG_ID)


class LocalClient:
    """The manifest's actions with their deploy-time parameters; a context manager that starts
    and stops the Adobe emulator when ``sandbox`` is set."""

    def __init__(self, manifest: pathlib.Path | None = None,
                 env_file: pathlib.Path | None = DEFAULT_ENV_FILE, *,
                 sandbox: bool = False, deployment: pathlib.Path | None = None) -> None:
        self.manifest_path = manifest or default_manifest()
        self.env_file = env_file
        self.source = ProjectSource(self.manifest_path, env_file, deployment=deployment)
        self.sandbox = sandbox
        self.emulator: AdobeEmulator | None = None
        self.actions: list[LocalAction] = []
        self.namespace = ""
        self._manifest: Manifest | None = None
        self._running = contextlib.ExitStack()

    def __enter__(self) -> LocalClient:
        env = self.source.env()
        manifest = self.source.load(env, blank_unset=is_sandbox_input if self.sandbox else None)
        if self.sandbox:
            self.emulator = self._running.enter_context(AdobeEmulator())
        self._use(manifest, env)
        return self

    def reload(self) -> None:
        """Read the manifest and the .env file again (the emulator, if any, stays): changed
        inputs apply from here on. On an error nothing changes."""
        if self._manifest is None:
            raise RuntimeError("use LocalClient in a with block")
        env = self.source.env()
        manifest = self.source.load(env, blank_unset=is_sandbox_input if self.sandbox else None)
        self._use(manifest, env)

    def _use(self, manifest: Manifest, env: Mapping[str, str]) -> None:
        actions = prepare(manifest, env, self.emulator)
        self._manifest, self.namespace, self.actions = manifest, configured_namespace(env), actions

    def __exit__(self, *exc_info: object) -> None:
        self._running.close()

    def not_run_here(self) -> list[Action]:
        """The manifest's actions whose runtime does not run locally (Node.js, docker …)."""
        manifest = self._manifest
        return [] if manifest is None else [
            action for action in manifest.actions() if not runtime(action.kind).runs(action)]

    @property
    def manifest(self) -> Manifest | None:
        """The manifest last read, None before the with block."""
        return self._manifest

    def action(self, wanted: str) -> LocalAction:
        """By the module that holds its code (``actions.generic``), ``package/name`` or name."""
        if self._manifest is None:
            raise RuntimeError("use LocalClient in a with block")
        selected = find_action(self._manifest, wanted)
        return next(local for local in self.actions if local.action == selected)

    def invoke(self, wanted: str, params: Mapping[str, Any] | None = None) -> Activation:
        """One activation with the deployed inputs overlaid by ``params``, as OpenWhisk merges
        them for a non-web invocation."""
        local = self.action(wanted)
        arguments = {**local.params, **(params or {})}
        mask_secret_values(arguments)
        return invoke(local, arguments)


def is_sandbox_input(path: str) -> bool:
    """True for a manifest path such as ``packages.p.actions.a.inputs.IMS_ORG_ID(.value)``."""
    parts = path.split(".")
    return any(part == "inputs" and index + 1 < len(parts) and parts[index + 1] in SANDBOX_INPUTS
               for index, part in enumerate(parts))


def prepare(manifest: Manifest, env: Mapping[str, str],
            emulator: AdobeEmulator | None) -> list[LocalAction]:
    """Every action its runtime can run here, with its deploy-time params; with the emulator,
    its URLs, and its
    credentials for the inputs an action declares. Secret-named values are masked from here on.
    """
    runnable = [action for action in manifest.actions() if runtime(action.kind).runs(action)]
    if emulator is None:
        actions = [local_action(manifest, action, env) for action in runnable]
    else:
        sandbox_env = {**env, **emulator.env()}
        actions = [local_action(manifest, action, sandbox_env,
                                {name: value for name, value in emulator.params().items()
                                 if name in manifest.parameters(action)})
                   for action in runnable]
    for local in actions:
        mask_secret_values(local.params)
        mask_secret_values({name: value for name, value in local.environment.items()
                            if name in local.action.init_inputs})
    return actions


def mask_secret_values(params: Mapping[str, Any]) -> None:
    for value in secret_values(dict(params)):
        known_secrets.add(value)
