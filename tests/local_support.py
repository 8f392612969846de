"""A throw-away copy of tests/fixtures/local_project for the local runner, CLI and web server
tests."""

from __future__ import annotations

import pathlib
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dotenv import dotenv_values

from tests.deploy_support import FIXTURES, action_named, copy_fixture
from tools.local.runner import LocalAction, local_action
from tools.manifest import Manifest, load_manifest

# The project: localtest_package/ holds the actions (handlers.py, and solo.py for the CLI, which
# runs the one action whose code is a module); "dotenv" becomes the project's .env.
LOCAL_PROJECT = FIXTURES / "local_project"
FIXTURE_PACKAGE = "localtest_package"

TEST_ENV = {name: value for name, value in dotenv_values(LOCAL_PROJECT / "dotenv").items()
            if value is not None}


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
        return local_action(manifest, action_named(manifest, name),
                            TEST_ENV if env is None else env)

    def all_local(self) -> list[LocalAction]:
        manifest = self.manifest()
        return [local_action(manifest, action, TEST_ENV) for action in manifest.actions()]

    @property
    def solo_module(self) -> str:
        return f"{self.package}.solo"


def make_project(tmp_path: pathlib.Path) -> Project:
    """The local project copied under ``tmp_path``; its action package gets a unique name
    (folder and manifest alike), so imports never collide between tests."""
    package = f"localtest_{secrets.token_hex(4)}"
    root = tmp_path / "project"
    copy_fixture(LOCAL_PROJECT, root)
    (root / FIXTURE_PACKAGE).rename(root / package)
    manifest_path = root / "manifest.yaml"
    manifest_path.write_text(manifest_path.read_text(encoding="utf-8").replace(
        f"{FIXTURE_PACKAGE}/", f"{package}/"), encoding="utf-8")
    env_file = root / ".env"
    (root / "dotenv").rename(env_file)
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
