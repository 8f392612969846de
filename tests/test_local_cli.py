"""``python -m actions.<name>``: options, exit codes, output streams, --sandbox and --serve."""

from __future__ import annotations

import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
from typing import TextIO

import pytest
import requests
import yaml

from tests.local_support import Project, temporary_project
from tools.local import cli as local_cli
from tools.local.cli import main
from tools.local.client import is_sandbox_input, prepare
from tools.local.server import WebActionServer
from tools.manifest import load_manifest
from tools.params import parse_param
from tools.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_ORG_ID,
    AdobeEmulator,
    Fault,
)

REPO = pathlib.Path(__file__).resolve().parents[1]
CREDENTIAL_VARIABLES = ("OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET",
                        "OAUTHS2S_CECREDENTIALS_METASCOPES", "IMS_ORG_ID")


@pytest.fixture
def project(tmp_path, monkeypatch):
    for name in ("AIO_RUNTIME_NAMESPACE", *CREDENTIAL_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for made in temporary_project(tmp_path, monkeypatch):
        monkeypatch.chdir(made.root)  # the default manifest.yaml and .env are the project's
        yield made


def run(project: Project, *argv: str) -> int:
    return main(project.solo_module, list(argv))


def result(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


# --- running once ------------------------------------------------------------------------------

def test_a_success_result_is_printed_and_exits_0(project, capsys):
    assert run(project) == 0
    printed = result(capsys)
    assert printed["statusCode"] == 200
    params = printed["body"]["params"]
    assert params["DEFINED"] == "deployed"
    assert params["FROM_ENV"] == "from-env-file"  # from the project's .env


def test_an_error_result_exits_1(project, capsys):
    assert run(project, "--param", "fail=true") == 1
    assert result(capsys) == {"error": {"statusCode": 400, "body": {"error": "asked to fail"}}}


def test_params_parse_as_json_when_they_can(project, capsys):
    assert run(project, "-p", "n=3", "-p", "t=text", "-p", 'o={"x": [1]}', "-p", "e=a=b",
               "-p", "empty=") == 0
    params = result(capsys)["body"]["params"]
    assert (params["n"], params["t"], params["o"], params["e"], params["empty"]) == (
        3, "text", {"x": [1]}, "a=b", "")


def test_param_wins_over_params_file_which_wins_over_inputs(project, capsys, tmp_path):
    file = tmp_path / "params.json"
    file.write_text(json.dumps({"a": "file", "b": "file", "DEFINED": "file"}))
    assert run(project, "--params-file", str(file), "--param", "b=flag") == 0
    params = result(capsys)["body"]["params"]
    assert (params["a"], params["b"], params["DEFINED"]) == ("file", "flag", "file")


def test_explicit_manifest_and_env_file(project, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env_file = tmp_path / "other.env"
    env_file.write_text("LOCAL_TEST_VAR=other\nLOCAL_TEST_CLIENT_ID=c\n")
    assert run(project, "--manifest", str(project.manifest_path), "--env-file",
               str(env_file)) == 0
    assert result(capsys)["body"]["params"]["FROM_ENV"] == "other"


def test_the_shell_wins_over_the_env_file(project, capsys, monkeypatch):
    monkeypatch.setenv("LOCAL_TEST_VAR", "from-shell")
    assert run(project) == 0
    assert result(capsys)["body"]["params"]["FROM_ENV"] == "from-shell"


def test_secret_inputs_never_reach_stdout(project, capsys):
    assert run(project, "-p", "OAUTHS2S_CLIENT_SECRET=hunter2-very-secret") == 0
    out = capsys.readouterr().out
    assert "hunter2-very-secret" not in out
    assert "<hidden>" in out


# --- usage and configuration errors exit 2 without a traceback ---------------------------------

def usage_error(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in captured.err
    return captured.err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--param", "novalue"], "expected KEY=VALUE"),
        (["--param", "=x"], "expected KEY=VALUE"),
        (["--serve", "--param", "a=1"], "--param and --params-file are for a single run"),
        (["--port", "9999"], "--host and --port go with --serve"),
        (["--serve", "--port", "70000"], "--port must be from 0 to 65535"),
        (["--env-file", "absent.env"], "absent.env: no such file"),
        (["--unknown"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2(project, capsys, argv, fragment):
    with pytest.raises(SystemExit) as exited:
        run(project, *argv)
    assert exited.value.code == 2
    usage_error(capsys, fragment)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "no such file"), ("{oops", "not valid JSON"), ("[1]", "must hold a JSON object")],
)
def test_a_bad_params_file_exits_2(project, capsys, tmp_path, content, fragment):
    file = tmp_path / "params.json"
    if content is not None:
        file.write_text(content)
    assert run(project, "--params-file", str(file)) == 2
    usage_error(capsys, "--params-file", fragment)


def test_unset_variables_are_all_listed_and_exit_2(project, capsys, tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    assert run(project, "--env-file", str(empty)) == 2
    usage_error(capsys, "unset variable", "LOCAL_TEST_VAR", "LOCAL_TEST_CLIENT_ID",
                "packages.demo.actions.solo.inputs.FROM_ENV")


def test_a_missing_manifest_exits_2(project, capsys):
    assert run(project, "--manifest", "nowhere.yaml") == 2
    usage_error(capsys, "nowhere.yaml: no such file")


def test_a_module_no_action_runs_exits_2(project, capsys):
    assert main("actions.nothing", []) == 2
    usage_error(capsys, "no action runs the module actions.nothing")


def test_an_action_that_fails_to_import_exits_2(project, capsys):
    (project.root / project.package / "solo.py").write_text("import not_installed_anywhere\n")
    assert run(project) == 2
    usage_error(capsys, "cannot import", "not_installed_anywhere")


def test_serve_refuses_an_action_that_fails_to_import(project, capsys):
    (project.root / project.package / "solo.py").write_text("import not_installed_anywhere\n")
    assert run(project, "--serve", "--port", "0") == 2
    usage_error(capsys, "cannot import")


def test_serve_needs_a_web_action(project, capsys):
    document = yaml.safe_load(project.manifest_path.read_text())
    for action in document["packages"]["demo"]["actions"].values():
        action["web"] = "no"
    project.manifest_path.write_text(yaml.safe_dump(document))
    assert run(project, "--serve", "--port", "0") == 2
    usage_error(capsys, "no action is a web action")


def test_serve_lists_the_web_urls_and_serves_until_interrupted(project, capsys, monkeypatch):
    answers = []

    def use_the_server() -> None:
        url = re.search(r"http://\S+/api/v1/web/guest/demo/solo", capsys.readouterr().err)
        assert url is not None
        with requests.Session() as http:
            http.trust_env = False
            answers.append(http.get(url.group(0), params={"q": "1"}, timeout=10))

    monkeypatch.setattr(local_cli, "wait_until_interrupted", use_the_server)
    assert run(project, "--serve", "--port", "0") == 0
    assert answers[0].status_code == 200
    assert answers[0].json()["params"]["q"] == "1"  # query values are strings


def test_help_exits_0(project, capsys):
    with pytest.raises(SystemExit) as exited:
        run(project, "--help")
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--sandbox" in out
    assert "--serve" in out
    assert f"python -m {project.solo_module}" in out


# --- sandbox -----------------------------------------------------------------------------------

def test_sandbox_supplies_the_credential_inputs(project, capsys, tmp_path):
    env_file = tmp_path / "only-var.env"
    env_file.write_text("LOCAL_TEST_VAR=set\n")  # LOCAL_TEST_CLIENT_ID stays unset
    assert run(project, "--sandbox", "--env-file", str(env_file)) == 0
    params = result(capsys)["body"]["params"]
    assert params["OAUTHS2S_CLIENT_ID"] == SANDBOX_CLIENT_ID
    # Only the inputs the action declares, as a deploy would store them.
    assert "IMS_ORG_ID" not in params
    assert "OAUTHS2S_CLIENT_SECRET" not in params


def test_sandbox_still_needs_the_other_variables(project, capsys, tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    assert run(project, "--sandbox", "--env-file", str(empty)) == 2
    err = usage_error(capsys, "LOCAL_TEST_VAR")
    assert "LOCAL_TEST_CLIENT_ID" not in err


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("packages.p.actions.a.inputs.IMS_ORG_ID", True),
        ("packages.p.actions.a.inputs.OAUTHS2S_CLIENT_SECRET.value", True),
        ("packages.p.inputs.OAUTHS2S_CLIENT_ID", True),
        ("packages.p.actions.a.inputs.OTHER", False),
        ("packages.p.actions.a.annotations.IMS_ORG_ID", False),
    ],
)
def test_is_sandbox_input(path, expected):
    assert is_sandbox_input(path) is expected


def test_parse_param_keeps_text_that_is_not_json():
    assert parse_param(["k=not json"]) == ("k", "not json")
    assert parse_param(["k=null"]) == ("k", None)


# --- the real action, as README.md and docs/local.md run it ---------------------------------------

def clean_environment() -> dict[str, str]:
    """This process's environment without anything that would change the run."""
    drop = {*CREDENTIAL_VARIABLES, "IMS_TOKEN_URL", "AEM_API_BASE_URL", "AIO_RUNTIME_NAMESPACE"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("__OW_")}


@pytest.fixture
def empty_env_file(tmp_path) -> str:
    file = tmp_path / "empty.env"
    file.write_text("")
    return str(file)


def test_the_generic_action_runs_in_the_sandbox(empty_env_file):
    done = subprocess.run(
        [sys.executable, "-m", "actions.generic", "--sandbox", "--env-file", empty_env_file],
        cwd=REPO, env=clean_environment(), capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["statusCode"] == 200
    assert printed["body"]["imsOrgId"] == SANDBOX_ORG_ID
    assert SANDBOX_CLIENT_SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_the_generic_action_without_credentials_says_what_to_set(empty_env_file):
    done = subprocess.run(
        [sys.executable, "-m", "actions.generic", "--env-file", empty_env_file],
        cwd=REPO, env=clean_environment(), capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 2
    assert "OAUTHS2S_CLIENT_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


def first_match(stream: TextIO, pattern: str, timeout: float = 30) -> str:
    """The first match of ``pattern`` in the lines of ``stream``, without waiting forever."""
    found: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            match = re.search(pattern, line)
            if match:
                found.put(match.group(0))
                return
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    match = found.get(timeout=timeout)
    assert match is not None, f"{pattern} never appeared"
    return match


def test_serve_in_the_sandbox_answers_the_web_url(empty_env_file):
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.generic", "--serve", "--sandbox", "--port", "0",
         "--env-file", empty_env_file],
        cwd=REPO, env=clean_environment(), stderr=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert process.stderr is not None
        url = first_match(process.stderr, r"http://127\.0\.0\.1:\d+/api/v1/web/guest/\S+/generic")
        with requests.Session() as http:
            http.trust_env = False
            answer = http.get(url, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["imsOrgId"] == SANDBOX_ORG_ID
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-openwhisk-activation-id"])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        rest = process.stderr.read()
        assert re.search(r"GET /api/v1/web/guest/\S+/generic 200 \d+ ms", rest)
        assert "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_served_generic_action_passes_on_what_the_emulator_injects():
    with AdobeEmulator() as emulator:
        manifest = load_manifest(REPO / "manifest.yaml", {}, blank_unset=is_sandbox_input)
        actions = prepare(manifest, {}, emulator)
        with WebActionServer(actions, "guest", port=0) as server, requests.Session() as http:
            http.trust_env = False
            url = f"{server.url}/api/v1/web/guest/dx-excshell-1/generic"
            answer = http.get(url, params={"current": "false"}, timeout=30)
            assert answer.status_code == 200
            assert answer.json()["current"] is False
            emulator.queue("aem", Fault(429, {"Retry-After": "30"}))
            throttled = http.get(url, timeout=30)
            assert throttled.status_code == 429
            assert throttled.headers["Retry-After"] == "30"
            emulator.expire_tokens()
            assert http.get(url, timeout=30).status_code == 200  # a new token, transparently
        assert emulator.token_requests == 2
