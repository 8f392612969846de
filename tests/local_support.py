"""A throw-away project (manifest + action code) for the local runner, CLI and web server tests."""

from __future__ import annotations

import pathlib
import secrets
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tools.local.runner import LocalAction, local_action
from tools.manifest import Manifest, load_manifest

# Test actions: each shows one thing the runtime or the controller does with a result.
ACTIONS_SOURCE = '''
import os
import threading
import time

_lock = threading.Lock()
_running = 0
seen_max = 0


def echo(params):
    """What the action received: its parameters and the __OW_* environment."""
    ow = {k: v for k, v in os.environ.items() if k.startswith("__OW_")}
    endpoints = {k: os.environ.get(k) for k in ("IMS_TOKEN_URL", "AEM_API_BASE_URL")}
    return {"body": {"params": params, "ow": ow, "endpoints": endpoints}}


def reply(params):
    """Answers whatever the request's 'reply' holds (None when absent)."""
    return params.get("reply")


def boom(params):
    raise RuntimeError("boom: " + str(params.get("detail", "")))


def overlap(params):
    """Notes how many calls ran at once."""
    global _running, seen_max
    with _lock:
        _running += 1
        seen_max = max(seen_max, _running)
    time.sleep(0.05)
    with _lock:
        _running -= 1
    return {"body": {"max": seen_max}}


def nap(params):
    time.sleep(float(params.get("seconds", 0.2)))
    return {"body": "rested"}
'''

# The CLI runs the one action whose code is a module: this one has its own.
SOLO_SOURCE = '''
def main(params):
    if params.get("fail"):
        return {"error": {"statusCode": 400, "body": {"error": "asked to fail"}}}
    return {"statusCode": 200, "body": {"params": params}}
'''

# The test actions as the manifest declares them: name -> (module, main, extra keys).
ACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "echo": ("handlers", "echo", {"web": "yes", "inputs": {
        "DEFINED": "deployed", "SHARED": "action-value", "FROM_ENV": "$LOCAL_TEST_VAR",
        "OAUTHS2S_CLIENT_ID": "$LOCAL_TEST_CLIENT_ID"}}),
    "open": ("handlers", "echo", {"web": "yes", "inputs": {"DEFINED": "deployed"},
                                  "annotations": {"final": False}}),
    "raw": ("handlers", "echo", {"web": "raw", "inputs": {"DEFINED": "deployed"}}),
    "reply": ("handlers", "reply", {"web": "yes"}),
    "boom": ("handlers", "boom", {"web": "yes"}),
    "guarded": ("handlers", "echo", {"web": "yes",
                                     "annotations": {"require-whisk-auth": "let-me-in"}}),
    "guarded-user": ("handlers", "echo", {"web": "yes",
                                          "annotations": {"require-whisk-auth": True}}),
    "options": ("handlers", "echo", {"web": "yes",
                                     "annotations": {"web-custom-options": True}}),
    "private": ("handlers", "echo", {}),
    "overlap": ("handlers", "overlap", {"web": "yes"}),
    "nap": ("handlers", "nap", {"web": "yes", "limits": {"timeout": 100}}),
    "solo": ("solo", "main", {"web": "yes", "inputs": {
        "DEFINED": "deployed", "FROM_ENV": "$LOCAL_TEST_VAR",
        "OAUTHS2S_CLIENT_ID": "$LOCAL_TEST_CLIENT_ID"}}),
}


def manifest_text(package: str) -> str:
    actions = {name: {"function": f"{package}/{module}.py", "runtime": "python:3.11",
                      "main": main, **extra}
               for name, (module, main, extra) in ACTIONS.items()}
    inputs = {"PKG_INPUT": "from-package", "SHARED": "package-value"}
    return yaml.safe_dump({"packages": {"demo": {"inputs": inputs, "actions": actions}}})


TEST_ENV = {"LOCAL_TEST_VAR": "from-env-file", "LOCAL_TEST_CLIENT_ID": "client-from-env"}


@dataclass(frozen=True)
class Project:
    root: pathlib.Path
    package: str  # the importable folder holding handlers.py
    manifest_path: pathlib.Path
    env_file: pathlib.Path

    def manifest(self, env: dict[str, str] | None = None) -> Manifest:
        return load_manifest(self.manifest_path, TEST_ENV if env is None else env)

    def local(self, name: str, env: dict[str, str] | None = None) -> LocalAction:
        manifest = self.manifest(env)
        return local_action(manifest, manifest.action(name), TEST_ENV if env is None else env)

    def all_local(self) -> list[LocalAction]:
        manifest = self.manifest()
        return [local_action(manifest, action, TEST_ENV) for action in manifest.actions()]

    @property
    def solo_module(self) -> str:
        return f"{self.package}.solo"


def make_project(tmp_path: pathlib.Path) -> Project:
    """A project whose action package has a unique name, so imports never collide."""
    package = f"localtest_{secrets.token_hex(4)}"
    root = tmp_path / "project"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "handlers.py").write_text(textwrap.dedent(ACTIONS_SOURCE))
    (root / package / "solo.py").write_text(textwrap.dedent(SOLO_SOURCE))
    manifest_path = root / "manifest.yaml"
    manifest_path.write_text(manifest_text(package))
    env_file = root / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in TEST_ENV.items()))
    return Project(root, package, manifest_path, env_file)


def temporary_project(tmp_path: pathlib.Path,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """For a fixture: a fresh project whose modules leave sys.modules and sys.path after."""
    for name in TEST_ENV:
        monkeypatch.delenv(name, raising=False)
    made = make_project(tmp_path)
    saved_path = list(sys.path)
    yield made
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m.split(".")[0] == made.package]:
        del sys.modules[name]
