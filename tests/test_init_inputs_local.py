"""Init inputs in local runs: like OpenWhisk after /init, the action finds them in its environment,
for the call only, and not among its parameters."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import secrets
import sys
from collections.abc import Iterator

import pytest

from lib._redact import known_secrets
from tests.deploy_support import FIXTURES, action_named, copy_fixture
from tools.local.client import LocalClient
from tools.local.runner import Outcome, init_environment_value, invoke, local_action
from tools.local.web_request import action_arguments
from tools.local.web_types import NOT_ALLOWED, Rejection, WebRequest
from tools.manifest import load_env, load_manifest

FIXTURE = FIXTURES / "init_inputs_project"
FIXTURE_PACKAGE = "initenv_package"
SECRET = "init-secret-value-1234"  # the fixture's dotenv
EXPECTED_ENVIRON = {"INIT_SECRET": SECRET, "COUNT": "3",
                    "SETTINGS": '{"retries":2,"mode":"fast"}', "PLAIN": None,
                    "FROM_PACKAGE": None}


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """A copy whose action package has a name of its own, so imports never collide."""
    package = f"initenv_{secrets.token_hex(4)}"
    root = tmp_path / "project"
    copy_fixture(FIXTURE, root)
    (root / FIXTURE_PACKAGE).rename(root / package)
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        f"{FIXTURE_PACKAGE}/", f"{package}/"), encoding="utf-8")
    (root / "dotenv").rename(root / ".env")
    for name in (*EXPECTED_ENVIRON, "INIT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    saved_path = list(sys.path)
    yield root
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m.split(".")[0] == package]:
        del sys.modules[name]


def test_init_inputs_leave_the_parameters_for_the_environment(project: pathlib.Path) -> None:
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)

    local = local_action(manifest, action_named(manifest, "report"), env)

    assert local.params == {"FROM_PACKAGE": "package", "PLAIN": "visible"}
    assert {name: local.environment[name] for name in ("INIT_SECRET", "COUNT", "SETTINGS")} == {
        "INIT_SECRET": SECRET, "COUNT": "3", "SETTINGS": '{"retries":2,"mode":"fast"}'}


def test_the_action_sees_them_as_environment_variables_for_the_call_only(
        project: pathlib.Path) -> None:
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)
    local = local_action(manifest, action_named(manifest, "report"), env)

    activation = invoke(local, {**local.params, "extra": 1})

    assert activation.outcome is Outcome.SUCCESS
    assert activation.result["environ"] == EXPECTED_ENVIRON
    assert activation.result["params"] == {"FROM_PACKAGE": "package", "PLAIN": "visible",
                                           "extra": 1}
    assert not {"INIT_SECRET", "COUNT", "SETTINGS"} & os.environ.keys()


def test_a_callers_value_for_an_init_input_goes_to_the_environment_too(
        project: pathlib.Path) -> None:
    """OpenWhisk partitions the merged arguments by the init names before a fresh /init."""
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)
    local = local_action(manifest, action_named(manifest, "report"), env)

    activation = invoke(local, {**local.params, "COUNT": 7})

    assert activation.result["environ"]["COUNT"] == "7"
    assert "COUNT" not in activation.result["params"]


def test_the_local_client_runs_them_so_and_masks_a_secret_one(
        project: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    with LocalClient() as client:
        activation = client.invoke("demo/report", {"PLAIN": "from-call"})

    assert activation.result["environ"] == EXPECTED_ENVIRON
    assert activation.result["params"]["PLAIN"] == "from-call"
    assert "INIT_SECRET" not in activation.result["params"]
    assert SECRET not in known_secrets.mask(f"the value is {SECRET}")


@pytest.mark.parametrize(("value", "expected"), [
    ("text", "text"), ("", ""), (3, "3"), (2.5, "2.5"), (True, "true"), (None, "null"),
    ({"a": [1, "é"]}, '{"a":[1,"é"]}'),
])
def test_a_value_is_exported_as_the_runtime_exports_it(value: object, expected: str) -> None:
    assert init_environment_value(value) == expected


def test_under_final_a_web_request_cannot_name_an_init_input(project: pathlib.Path) -> None:
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)
    web = dataclasses.replace(action_named(manifest, "report"), web="yes")  # final, as web: yes
    local = local_action(manifest, web, env)
    request = WebRequest("GET", "/x?INIT_SECRET=mine", {})

    with pytest.raises(Rejection) as caught:
        action_arguments(local, request, "")
    assert caught.value.status == 400
    assert caught.value.message == NOT_ALLOWED
    assert "INIT_SECRET" not in local.params  # not a parameter: only final protects it
