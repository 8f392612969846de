"""The local runner: deploy-time parameters, the __OW_* environment and OpenWhisk's result rules."""

from __future__ import annotations

import os
import time

import pytest

from tests.deploy_support import action_named, make_project
from tests.local_support import TEST_ENV, Project, temporary_project
from tools.local.runner import (
    NOT_A_DICTIONARY,
    NOT_JSON,
    Outcome,
    RunnerError,
    activation_environment,
    classify,
    find_action,
    invoke,
    load_entry_point,
    patched_environ,
)
from tools.manifest import load_manifest


@pytest.fixture
def project(tmp_path, monkeypatch):
    yield from temporary_project(tmp_path, monkeypatch)


def received(project: Project, name: str = "echo", **params):
    local = project.local(name)
    activation = invoke(local, {**local.params, **params})
    return activation, activation.result["body"]


def test_params_are_package_inputs_overlaid_by_the_actions_with_vars_resolved(project):
    assert project.local("echo").params == {
        "PKG_INPUT": "from-package",
        "SHARED": "action-value",
        "DEFINED": "deployed",
        "FROM_ENV": "from-env-file",
        "OAUTHS2S_CLIENT_ID": "client-from-env",
    }


def test_the_action_receives_its_params(project):
    activation, body = received(project, extra=[1, 2])
    assert activation.outcome is Outcome.SUCCESS
    assert body["params"]["extra"] == [1, 2]
    assert body["params"]["DEFINED"] == "deployed"


def test_the_call_sees_the_ow_environment_of_an_activation(project):
    before_ms = int(time.time() * 1000)
    activation, body = received(project)
    after_ms = int(time.time() * 1000)
    ow = body["ow"]
    assert ow["__OW_ACTIVATION_ID"] == activation.activation_id
    assert len(activation.activation_id) == 32
    int(activation.activation_id, 16)
    assert ow["__OW_ACTION_NAME"] == "/guest/demo/echo"
    assert ow["__OW_NAMESPACE"] == "guest"
    assert before_ms + 60_000 <= int(ow["__OW_DEADLINE"]) <= after_ms + 60_000


def test_each_call_is_a_new_activation(project):
    first, _ = received(project)
    second, _ = received(project)
    assert first.activation_id != second.activation_id


def test_the_namespace_comes_from_the_configuration(project):
    local = project.local("echo", {**TEST_ENV, "AIO_RUNTIME_NAMESPACE": "my-ns"})
    body = invoke(local, local.params).result["body"]
    assert body["ow"]["__OW_ACTION_NAME"] == "/my-ns/demo/echo"
    assert body["ow"]["__OW_NAMESPACE"] == "my-ns"


def test_the_deadline_follows_the_timeout_limit(project):
    local = project.local("nap")
    assert local.timeout_ms == 100
    environment = activation_environment(local, "a" * 32, now=1000.0)
    assert environment["__OW_DEADLINE"] == str(1_000_000 + 100)


def test_endpoint_variables_from_the_env_reach_the_call_only(project):
    env = {**TEST_ENV, "IMS_TOKEN_URL": "http://127.0.0.1:1/ims/token/v3"}
    local = project.local("echo", env)
    body = invoke(local, local.params).result["body"]
    assert body["endpoints"] == {"IMS_TOKEN_URL": "http://127.0.0.1:1/ims/token/v3",
                                 "AEM_API_BASE_URL": None}
    assert "IMS_TOKEN_URL" not in os.environ


def test_the_process_environment_is_restored_after_the_call(project, monkeypatch):
    monkeypatch.setenv("__OW_NAMESPACE", "outside")
    received(project)
    assert os.environ["__OW_NAMESPACE"] == "outside"
    assert "__OW_ACTIVATION_ID" not in os.environ
    assert "__OW_DEADLINE" not in os.environ


def test_patched_environ_restores_even_after_an_exception(monkeypatch):
    monkeypatch.setenv("LOCAL_TEST_KEPT", "old")
    monkeypatch.delenv("LOCAL_TEST_NEW", raising=False)
    seen = []

    def inside() -> None:
        with patched_environ({"LOCAL_TEST_KEPT": "new", "LOCAL_TEST_NEW": "x"}):
            seen.append((os.environ["LOCAL_TEST_KEPT"], os.environ["LOCAL_TEST_NEW"]))
            raise KeyError("inside")

    with pytest.raises(KeyError):
        inside()
    assert seen == [("new", "x")]
    assert os.environ["LOCAL_TEST_KEPT"] == "old"
    assert "LOCAL_TEST_NEW" not in os.environ


def test_an_uncaught_exception_is_an_error_result_with_the_traceback_in_the_log(project, capsys):
    local = project.local("boom")
    activation = invoke(local, {"detail": "details"})
    assert activation.outcome is Outcome.APPLICATION_ERROR
    assert activation.result == {"error": "boom: details"}
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reply", "outcome", "result"),
    [
        ({"statusCode": 201}, Outcome.SUCCESS, {"statusCode": 201}),
        ([1, 2], Outcome.SUCCESS, [1, 2]),
        ({"error": {"statusCode": 404}}, Outcome.APPLICATION_ERROR, {"error": {"statusCode": 404}}),
        ("just text", Outcome.DEVELOPER_ERROR, {"error": NOT_A_DICTIONARY}),
        (None, Outcome.DEVELOPER_ERROR, {"error": NOT_A_DICTIONARY}),
    ],
)
def test_results_are_classified_as_openwhisk_does(project, reply, outcome, result):
    activation = invoke(project.local("reply"), {"reply": reply})
    assert activation.outcome is outcome
    assert activation.result == result
    assert activation.ok is (outcome is Outcome.SUCCESS)


def test_a_result_json_cannot_carry_is_a_developer_error(project):
    activation = invoke(project.local("reply"), {"reply": {"items": {1, 2}}})
    assert activation.outcome is Outcome.DEVELOPER_ERROR
    assert activation.result == {"error": NOT_JSON}


@pytest.mark.parametrize("value", [3, True, "x", None])
def test_classify_refuses_what_is_not_a_json_object_or_array(value):
    assert classify(value) is Outcome.DEVELOPER_ERROR
    assert classify({"v": value}) is Outcome.SUCCESS


def test_classify_refuses_nan_which_json_cannot_carry():
    assert classify({"v": float("nan")}) is Outcome.DEVELOPER_ERROR


def test_running_past_the_time_limit_is_a_developer_error(project, capsys):
    activation = invoke(project.local("nap"), {"seconds": 0.2})
    assert activation.outcome is Outcome.DEVELOPER_ERROR
    assert activation.result == {
        "error": "The action exceeded its time limits of 100 milliseconds."}
    assert "time limit" in capsys.readouterr().err


def test_find_action_picks_the_action_whose_code_is_the_module(project):
    assert find_action(project.manifest(), project.solo_module).name == "solo"


def test_find_action_refuses_a_module_several_actions_run(project):
    with pytest.raises(RunnerError, match="several actions run"):
        find_action(project.manifest(), f"{project.package}.handlers")


def test_find_action_names_the_actions_when_none_matches(project):
    with pytest.raises(RunnerError, match=r"no action runs the module nowhere.*demo/solo"):
        find_action(project.manifest(), "nowhere")


def test_find_action_takes_a_name_or_a_package_and_name(tmp_path):
    body = "{actions: {hello: {function: actions/hello, runtime: 'python:3.11'}}}"
    manifest = load_manifest(make_project(tmp_path, f"packages:\n  one: {body}\n  two: {body}\n"),
                             {})

    assert find_action(manifest, "two/hello").qualified_name == "two/hello"
    with pytest.raises(RunnerError, match="one/hello, two/hello"):
        find_action(manifest, "hello")
    with pytest.raises(RunnerError, match=r"bye.*one/hello.*two/hello"):
        find_action(manifest, "bye")


def test_an_action_that_cannot_be_imported_is_a_runner_error(project):
    (project.root / project.package / "solo.py").write_text("import not_installed_anywhere\n")
    action = action_named(project.manifest(), "solo")
    with pytest.raises(RunnerError, match=r"cannot import .*ModuleNotFoundError"):
        load_entry_point(action)


def test_a_missing_main_function_is_a_runner_error(project):
    (project.root / project.package / "solo.py").write_text("def other(params):\n    return {}\n")
    with pytest.raises(RunnerError, match=r"has no function main\(\)"):
        load_entry_point(action_named(project.manifest(), "solo"))


def test_a_stray_exit_in_main_is_that_activations_error_not_the_end_of_the_process(
        project, capsys, monkeypatch):
    local = project.local("boom")
    module = __import__(load_entry_point(local.action).__module__, fromlist=["boom"])

    def leaves(params):
        raise SystemExit(3)

    monkeypatch.setattr(module, "boom", leaves)
    activation = invoke(local, {})
    assert activation.outcome is Outcome.APPLICATION_ERROR
    assert activation.result == {"error": "SystemExit: 3"}
    assert "SystemExit" in capsys.readouterr().err
