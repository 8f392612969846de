"""tools.local.client and ``python -m tools.local``: any action of the manifest runs locally."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import requests

from tests.local_support import Project, temporary_project
from tools.errors import ManifestError
from tools.local.cli import main
from tools.local.client import LocalClient
from tools.local.runner import Outcome, RunnerError
from tools.sandbox import SANDBOX_CLIENT_ID, SANDBOX_ORG_ID

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("AIO_RUNTIME_NAMESPACE", raising=False)
    for made in temporary_project(tmp_path, monkeypatch):
        monkeypatch.chdir(made.root)  # the default manifest.yaml and .env are the project's
        yield made


def test_an_action_is_found_by_package_and_name_by_name_and_by_module(project: Project) -> None:
    with LocalClient() as client:
        assert client.action("demo/solo").action.name == "solo"
        assert client.action("solo").action.name == "solo"
        assert client.action(project.solo_module).action.name == "solo"


def test_an_unknown_or_ambiguous_action_is_refused_with_the_known_ones(project: Project) -> None:
    with LocalClient() as client:
        with pytest.raises(RunnerError, match=r"no action .* nowhere .*demo/echo"):
            client.action("nowhere")
        with pytest.raises(RunnerError, match="several actions run"):
            client.action(f"{project.package}.handlers")  # one module, many actions


def test_invoke_overlays_the_deployed_inputs_and_sets_the_activation_environment(
        project: Project) -> None:
    with LocalClient() as client:
        activation = client.invoke("demo/echo", {"SHARED": "from-call", "extra": 1})
    assert activation.outcome is Outcome.SUCCESS
    body = activation.result["body"]
    assert body["params"]["DEFINED"] == "deployed"
    assert body["params"]["FROM_ENV"] == "from-env-file"
    assert body["params"]["SHARED"] == "from-call"
    assert body["params"]["extra"] == 1
    assert body["ow"]["__OW_ACTION_NAME"] == "/guest/demo/echo"
    assert body["ow"]["__OW_ACTIVATION_ID"] == activation.activation_id


def test_an_exception_is_an_application_error_as_in_the_runtime(project: Project) -> None:
    with LocalClient() as client:
        activation = client.invoke("boom", {"detail": "x"})
    assert activation.outcome is Outcome.APPLICATION_ERROR
    assert activation.result == {"error": "boom: x"}


def test_the_sandbox_supplies_the_declared_credentials_and_stops_with_the_client(
        project: Project, tmp_path: pathlib.Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("LOCAL_TEST_VAR=v\n")  # LOCAL_TEST_CLIENT_ID unset: the sandbox fills it
    with LocalClient(env_file=empty, sandbox=True) as client:
        assert client.emulator is not None
        url = client.emulator.url
        echoed = client.invoke("demo/echo").result["body"]
        assert requests.get(url, timeout=5).status_code == 404  # running on loopback
    assert echoed["params"]["OAUTHS2S_CLIENT_ID"] == SANDBOX_CLIENT_ID
    assert "IMS_ORG_ID" not in echoed["params"]  # not declared by this action: not supplied
    assert echoed["endpoints"]["IMS_TOKEN_URL"] == url + "/ims/token/v3"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)


def test_without_the_sandbox_an_unset_variable_is_an_error(project: Project,
                                                            tmp_path: pathlib.Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    with pytest.raises(ManifestError, match="LOCAL_TEST_CLIENT_ID"), LocalClient(env_file=empty):
        pass


def test_the_repo_s_generic_action_answers_through_the_client_in_the_sandbox() -> None:
    with LocalClient(REPO / "manifest.yaml", None, sandbox=True) as client:
        activation = client.invoke("dx-excshell-1/generic", {"current": "false"})
    assert activation.ok
    assert activation.result["body"]["imsOrgId"] == SANDBOX_ORG_ID
    assert activation.result["body"]["current"] is False


# --- python -m tools.local ---------------------------------------------------------------------

def test_a_single_file_action_in_a_shared_module_runs_by_name(
        project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(None, ["demo/reply", "-p", 'reply={"body": "hi"}']) == 0
    assert json.loads(capsys.readouterr().out) == {"body": "hi"}


def test_an_error_result_by_name_exits_1(project: Project,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(None, ["demo/boom"]) == 1
    assert json.loads(capsys.readouterr().out) == {"error": "boom: "}


def test_an_unknown_name_exits_2_naming_the_actions(project: Project,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(None, ["demo/nothing"]) == 2
    err = capsys.readouterr().err
    assert "no action runs the module demo/nothing or is named demo/nothing" in err
    assert "demo/solo" in err


def test_python_m_tools_local_runs_the_generic_action_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.local", "dx-excshell-1/generic", "--sandbox",
         "-p", "current=false"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["body"]["current"] is False
    assert "Traceback" not in done.stderr


def test_python_m_tools_local_needs_an_action() -> None:
    done = subprocess.run([sys.executable, "-m", "tools.local"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "the following arguments are required: action" in done.stderr


def test_identity_variables_of_the_shell_do_not_reach_the_action(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Exported credentials would count as init parameters; a container has none but its own."""
    monkeypatch.setenv("OAUTHS2S_CLIENT_SECRET", "a-secret-from-the-developer-shell")
    monkeypatch.setenv("IMS_ORG_ID", "SHELL@AdobeOrg")
    with LocalClient(REPO / "manifest.yaml", None, sandbox=True) as client:
        activation = client.invoke("dx-excshell-1/generic")
    assert activation.ok, activation.result
    assert activation.result["body"]["imsOrgId"] == SANDBOX_ORG_ID
    assert os.environ["IMS_ORG_ID"] == "SHELL@AdobeOrg"  # the shell's own, back after the call
