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
import requests

from lib.redact import known_secrets
from tests.deploy_support import FIXTURES, action_named, copy_fixture
from tools.local import cli as local_cli
from tools.local.client import LocalClient
from tools.local.runner import (
    EnvironmentValueError,
    Outcome,
    init_environment_value,
    invoke,
    local_action,
)
from tools.local.server import WebActionServer
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
    web = dataclasses.replace(action_named(manifest, "report"), web="yes",
                              web_given=True)  # final, as web: yes
    local = local_action(manifest, web, env)
    request = WebRequest("GET", "/x?INIT_SECRET=mine", {})

    with pytest.raises(Rejection) as caught:
        action_arguments(local, request, "")
    assert caught.value.status == 400
    assert caught.value.message == NOT_ALLOWED
    assert "INIT_SECRET" not in local.params  # not a parameter: only final protects it


# --- values the environment cannot hold ---------------------------------------------------------

WEB_ENTRIES = """\
        web: 'yes'
        annotations:
          final: false  # a caller may then name an init input, and its value is exported
      other:
        function: __PACKAGE__/handlers.py
        runtime: python:3.11
        main: report
        web: 'yes'
"""


def web_project(project: pathlib.Path) -> pathlib.Path:
    """The project with report a non-final web action, and a second one, other, without init
    inputs: what report leaves in the process, other would see."""
    manifest = project / "manifest.yaml"
    package = next(path.name for path in project.iterdir() if path.name.startswith("initenv_"))
    manifest.write_text(manifest.read_text(encoding="utf-8")
                        + WEB_ENTRIES.replace("__PACKAGE__", package), encoding="utf-8")
    return manifest


@pytest.mark.parametrize(("value", "problem"), [
    ("a\0b", "the value holds a NUL character"),
    ("\ud800 lone surrogate", "the value holds text the file system's encoding cannot carry"),
])
def test_a_value_the_environment_cannot_hold_is_refused_and_nothing_stays(
        project: pathlib.Path, value: str, problem: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETTINGS", "the shell's own")
    env = load_env(project / ".env")
    manifest = load_manifest(project / "manifest.yaml", env)
    local = local_action(manifest, action_named(manifest, "report"), env)
    before = dict(os.environ)

    with pytest.raises(EnvironmentValueError) as caught:
        invoke(local, {**local.params, "COUNT": value})

    assert str(caught.value) == f"'COUNT' cannot be set in the action's environment: {problem}"
    assert dict(os.environ) == before  # INIT_SECRET never set, SETTINGS the shell's


def test_the_web_server_answers_400_and_the_next_action_sees_no_secret(
        project: pathlib.Path) -> None:
    manifest_path = web_project(project)
    session = requests.Session()
    session.trust_env = False
    with LocalClient(manifest_path, project / ".env") as client, \
            WebActionServer(client.actions, client.namespace, port=0) as server:
        base = f"{server.url}/api/v1/web/guest/demo"
        refused = session.get(f"{base}/report.json", params={"COUNT": "1\0"}, timeout=30)
        other = session.get(f"{base}/other.json", timeout=30)
        fine = session.get(f"{base}/report.json", params={"COUNT": "5"}, timeout=30)
    session.close()

    assert refused.status_code == 400
    assert refused.json()["error"] == ("'COUNT' cannot be set in the action's environment: "
                                       "the value holds a NUL character")
    assert SECRET not in refused.text
    assert other.status_code == 200
    assert other.json()["environ"]["INIT_SECRET"] is None
    assert fine.json()["environ"]["COUNT"] == "5"  # the server goes on serving
    assert "INIT_SECRET" not in os.environ


def test_the_cli_exits_2_naming_the_input(project: pathlib.Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status = local_cli.main(None, ["demo/report", "--manifest", str(project / "manifest.yaml"),
                                   "--env-file", str(project / ".env"),
                                   "--param", 'COUNT="x\\u0000y"'])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == ("error: 'COUNT' cannot be set in the action's environment: the value "
                            "holds a NUL character\n")
    assert captured.out == ""
    assert "INIT_SECRET" not in os.environ
