"""deploy.py end to end: the exact REST calls, the report, dry runs, undeploy, render and build."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pathlib
import re
import stat
import subprocess
import sys

import pytest
import responses
from responses import matchers

import deploy as cli
from lib.http import RetryPolicy
from tests.deploy_support import HELLO_ENV, REPO, closed_port, make_project, zip_names
from tools.deploy import operations
from tools.deploy.entity_types import actions as entity_actions
from tools.manifest import load_manifest
from tools.runtimes.python.build import build_zips

KEY = "k3y-0f-the-openwhisk-namespace-0123456789"
AUTH = f"uuid-1234:{KEY}"
HOST = "https://ow.test"
BASIC = "Basic " + base64.b64encode(AUTH.encode()).decode()
SECRET = HELLO_ENV["API_SECRET"]
PACKAGE_URL = f"{HOST}/api/v1/namespaces/ns/packages/demo"
ACTION_URL = f"{HOST}/api/v1/namespaces/ns/actions/demo/hello"
RUNTIMES = {"runtimes": {"python": [{"kind": "python:3.10"}, {"kind": "python:3.11"}],
                         "nodejs": [{"kind": "nodejs:20"}]}}
COLLECTIONS = "(packages|actions|triggers|rules)"
FAST = RetryPolicy(retries=1, backoff=0.001, max_backoff=0.001)
TWO_ACTIONS = """\
packages:
  demo:
    actions:
      hello:
        function: actions/hello
        runtime: python:3.11
        web: no
        inputs:
          API_SECRET: $API_SECRET
      second:
        function: actions/hello
        runtime: python:3.11
        main: handler
"""


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """The hello project as the working directory, its variables and credentials in .env."""
    root = tmp_path / "project"
    make_project(root)
    env = {**HELLO_ENV, "AIO_RUNTIME_APIHOST": "ow.test", "AIO_RUNTIME_AUTH": AUTH,
           "AIO_RUNTIME_NAMESPACE": "ns"}
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.wskprops of the user's
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert KEY not in out + err
    assert SECRET not in out + err
    return status, out, err


def expect_server(python: bool = True) -> None:
    """The server's kinds, and an empty namespace: every entity absent, every list empty."""
    responses.get(f"{HOST}/", json=RUNTIMES if python else {"runtimes": {"nodejs": []}})
    responses.get(re.compile(rf"{HOST}/api/v1/namespaces/[^/]+/{COLLECTIONS}/.+"), status=404,
                  json={"error": "The requested resource does not exist."})
    responses.get(re.compile(rf"{HOST}/api/v1/namespaces/[^/]+/{COLLECTIONS}(\?.*)?$"), json=[])


def writes() -> list[responses.Call]:
    """The calls that change something: what a test of a deploy asserts on."""
    return [call for call in responses.calls if call.request.method != "GET"]


def request_body(call: responses.Call) -> dict:
    return json.loads(call.request.body)


@responses.activate
def test_deploy_puts_the_package_then_the_action_and_prints_the_web_url(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_server()
    authorised = [matchers.query_param_matcher({"overwrite": "true"}),
                  matchers.header_matcher({"Authorization": BASIC})]
    responses.put(PACKAGE_URL, json={}, match=authorised)
    responses.put(ACTION_URL, json={}, match=authorised)

    status, out, _ = run(capsys)

    assert status == 0
    assert [(c.request.method, c.request.url.partition("?")[0]) for c in responses.calls] == [
        ("GET", f"{HOST}/"), ("GET", PACKAGE_URL), ("PUT", PACKAGE_URL), ("GET", ACTION_URL),
        ("PUT", ACTION_URL)]  # no listing: a project without a name of its own is not pruned
    managed = {"key": "whisk-managed", "value": {
        "projectName": "project", "file": "manifest.yaml",
        "projectHash": hashlib.sha256((project / "manifest.yaml").read_bytes()).hexdigest()}}
    assert request_body(writes()[0]) == {
        "parameters": [{"key": "REGION", "value": "eu"}], "annotations": [managed],
        "publish": False}
    action = request_body(writes()[1])
    built = build_zips(load_manifest(project / "manifest.yaml", HELLO_ENV))[0]
    assert action == {
        "exec": {"kind": "python:3.11", "code": built.base64(), "main": "main"},
        "parameters": [{"key": "name", "value": "world"}, {"key": "API_SECRET", "value": SECRET}],
        "annotations": [{"key": "web-export", "value": True}, {"key": "raw-http", "value": False},
                        {"key": "final", "value": True}, managed],
        "limits": {"timeout": 30000, "memory": 256, "logs": 10},
    }
    assert "__main__.py" in zip_names(base64.b64decode(action["exec"]["code"]))
    assert out.splitlines() == [
        "Deploying project project to https://ow.test, namespace ns (credentials from "
        "AIO_RUNTIME_* (.env))",
        "  created   package demo",
        f"  created   action demo/hello (python:3.11, {len(built.data)} byte zip)",
        "Not pruning: the project has no name of its own (set project.name, the App Builder "
        "app's name in package.json, or --project)",
        "Web actions:",
        "  demo/hello: https://ow.test/api/v1/web/ns/demo/hello",
        "Deployed project project: 0 unchanged, 0 updated, 2 created, 0 pruned.",
    ]


@responses.activate
def test_web_off_deletes_stale_web_annotations_and_prints_no_url(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "manifest.yaml").write_text(TWO_ACTIONS)
    expect_server()
    responses.put(PACKAGE_URL, json={})
    responses.put(ACTION_URL, json={})
    responses.put(f"{HOST}/api/v1/namespaces/ns/actions/demo/second", json={})

    status, out, _ = run(capsys, "deploy")

    assert status == 0
    hello, second = request_body(writes()[1]), request_body(writes()[2])
    assert [item["key"] for item in hello["annotations"]] == ["whisk-managed"]
    assert hello["delAnnotations"] == ["web-export", "raw-http", "final"]
    assert second["exec"]["main"] == "handler"
    assert "Web actions" not in out
    assert out.endswith("Deployed project project: 0 unchanged, 0 updated, 3 created, "
                        "0 pruned.\n")


@responses.activate
def test_the_default_namespace_is_looked_up_for_paths_and_urls(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIO_RUNTIME_NAMESPACE", "")  # the shell wins over .env, even empty
    expect_server()
    responses.get(f"{HOST}/api/v1/namespaces", json=["12-real"])
    responses.put(f"{HOST}/api/v1/namespaces/12-real/packages/demo", json={})
    responses.put(f"{HOST}/api/v1/namespaces/12-real/actions/demo/hello", json={})

    status, out, _ = run(capsys)

    assert status == 0
    assert [c.request.url.partition("?")[0] for c in responses.calls][:2] == [
        f"{HOST}/", f"{HOST}/api/v1/namespaces"]
    assert "https://ow.test/api/v1/web/12-real/demo/hello" in out


@responses.activate
def test_a_refusal_stops_the_deploy_with_a_report(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "manifest.yaml").write_text(TWO_ACTIONS)
    expect_server()
    responses.put(PACKAGE_URL, json={})
    responses.put(ACTION_URL, status=413,
                  json={"error": f"The request content was malformed: {SECRET}", "code": "c0de"})

    status, out, _ = run(capsys)

    assert status == 1
    assert len(writes()) == 2  # the second action is not attempted
    assert out.splitlines()[1:] == [
        "  created   package demo",
        "  FAILED    action demo/hello: HTTP 413: The request content was malformed: <hidden> "
        "(code c0de)",
        "Deploy failed.",
        "  done:          package demo",
        "  failed:        action demo/hello: HTTP 413: The request content was malformed: "
        "<hidden> (code c0de)",
        "  not attempted: action demo/second",
    ]


@responses.activate
def test_a_kind_the_server_lacks_stops_before_anything_is_put(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect_server(python=False)

    status, _, err = run(capsys)

    assert status == 2
    assert len(responses.calls) == 1
    assert err == ("deploy.py deploy: error: action demo/hello: https://ow.test does not run "
                   "python:3.11 (its Python kinds: none); change runtime in the manifest\n")


def test_an_unreachable_server_fails_with_a_message(project: pathlib.Path) -> None:
    env = {"AIO_RUNTIME_APIHOST": f"http://127.0.0.1:{closed_port()}", "AIO_RUNTIME_AUTH": AUTH}
    manifest = load_manifest(project / "manifest.yaml", HELLO_ENV)

    with pytest.raises(operations.OpenWhiskError, match="could not connect to OpenWhisk"):
        operations.deploy(manifest, env, operations.Options(retry=FAST), io.StringIO())


@responses.activate
def test_a_dry_run_prints_the_requests_and_sends_nothing(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "deploy", "--dry-run")

    assert status == 0
    assert len(responses.calls) == 0
    built = build_zips(load_manifest(project / "manifest.yaml", HELLO_ENV))[0]
    assert f"PUT {ACTION_URL}?overwrite=true  (action demo/hello)" in out
    assert f"PUT {PACKAGE_URL}?overwrite=true  (package demo)" in out
    assert (f'"code": "<zip of {len(built.data)} bytes, {len(built.base64())} in base64, '
            f'sha256 {built.sha256}>"') in out
    assert '"key": "API_SECRET",\n      "value": "<hidden>"' in out
    assert "https://ow.test/api/v1/web/ns/demo/hello" in out


@pytest.fixture
def no_credentials(project: pathlib.Path) -> pathlib.Path:
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in HELLO_ENV.items()))
    return project


@responses.activate
@pytest.mark.usefixtures("no_credentials")
def test_a_dry_run_needs_no_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--dry-run")

    assert status == 0
    assert "No OpenWhisk credentials were found" in out
    assert "PUT https://APIHOST/api/v1/namespaces/_/packages/demo?overwrite=true" in out


@pytest.mark.usefixtures("no_credentials")
def test_without_credentials_a_deploy_says_where_to_put_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys)

    assert status == 2
    assert "no OpenWhisk AUTH key found" in err
    assert "AIO_RUNTIME_AUTH" in err


@responses.activate
def test_unset_variables_stop_everything(project: pathlib.Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".env").write_text(f"AIO_RUNTIME_AUTH={AUTH}\nREGION=eu\n")

    status, out, err = run(capsys)

    assert status == 2
    assert out == ""
    assert len(responses.calls) == 0
    assert "  API_SECRET: used by packages.demo.actions.hello.inputs.API_SECRET" in err
    assert "  NAME: used by packages.demo.actions.hello.inputs.name" in err


@responses.activate
def test_a_zip_over_the_code_limit_is_refused_before_sending(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entity_actions, "MAX_CODE_BASE64", 100)

    status, _, err = run(capsys)

    assert status == 2
    assert len(responses.calls) == 0
    assert "over OpenWhisk's 100 byte limit" in err


@responses.activate
def test_undeploy_deletes_actions_then_packages_and_tolerates_gone_ones(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "manifest.yaml").write_text(TWO_ACTIONS)
    auth = [matchers.header_matcher({"Authorization": BASIC})]
    responses.delete(ACTION_URL, json={}, match=auth)
    responses.delete(f"{HOST}/api/v1/namespaces/ns/actions/demo/second", status=404,
                     json={"error": "The requested resource does not exist.", "code": "x"})
    responses.delete(PACKAGE_URL, json={}, match=auth)

    status, out, _ = run(capsys, "undeploy")

    assert status == 0
    assert [c.request.url for c in responses.calls] == [
        ACTION_URL, f"{HOST}/api/v1/namespaces/ns/actions/demo/second", PACKAGE_URL]
    assert out.splitlines()[1:] == [
        "  deleted action demo/hello",
        "  absent  action demo/second (already gone)",
        "  deleted package demo",
        "Undeployed: 2 deleted, 1 already gone.",
    ]


@responses.activate
def test_an_undeploy_refusal_is_reported(project: pathlib.Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    responses.delete(ACTION_URL, json={})
    responses.delete(PACKAGE_URL, status=409, json={"error": "Package not empty", "code": "9"})

    status, out, _ = run(capsys, "undeploy")

    assert status == 1
    assert "  failed:        package demo: HTTP 409: Package not empty (code 9)" in out
    assert "  done:          action demo/hello" in out


@responses.activate
def test_an_undeploy_dry_run_lists_the_deletes(project: pathlib.Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "undeploy", "--dry-run", "--namespace", "other")

    assert status == 0
    assert len(responses.calls) == 0
    assert out.splitlines()[1:] == [
        "DELETE https://ow.test/api/v1/namespaces/other/actions/demo/hello  (action demo/hello)",
        "DELETE https://ow.test/api/v1/namespaces/other/packages/demo  (package demo)",
    ]


def test_render_masks_secrets_unless_asked(project: pathlib.Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "render")
    assert status == 0
    assert "API_SECRET: <hidden>" in out
    assert "name: world" in out

    assert cli.main(["render", "--show-secrets"]) == 0
    assert f"API_SECRET: {SECRET}" in capsys.readouterr().out


def test_render_output_is_written_for_the_owner_only(project: pathlib.Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = project / "resolved.yaml"
    target.write_text("old")
    target.chmod(0o644)

    status, out, _ = run(capsys, "render", "--show-secrets", "--output", str(target))

    assert status == 0
    assert out == f"wrote {target} (mode 0600)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"API_SECRET: {SECRET}" in target.read_text()


def test_build_writes_one_zip_per_action(project: pathlib.Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "build", "--out", "dist-zips")

    path = project / "dist-zips" / "demo" / "hello.zip"
    assert status == 0
    assert out.startswith(f"built {pathlib.Path('dist-zips/demo/hello.zip')} (")
    assert path.read_bytes() == build_zips(load_manifest(project / "manifest.yaml",
                                                         HELLO_ENV))[0].data


@pytest.mark.parametrize(("argv", "words"), [
    (["--manifest", "absent.yaml"], "absent.yaml: no such file"),
    (["render", "--env-file", "absent.env"], "--env-file absent.env: no such file"),
])
def test_configuration_errors_exit_2_with_a_message(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        words: str) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert words in err


@pytest.mark.parametrize("argv", [["--no-such-flag"], ["publish"], ["render", "--dry-run"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage: deploy.py" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["render", "build", "deploy", "undeploy"])
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([command, "--help"])
    assert caught.value.code == 0
    assert f"usage: deploy.py {command}" in capsys.readouterr().out


def test_the_script_never_shows_a_traceback(tmp_path: pathlib.Path) -> None:
    (tmp_path / "manifest.yaml").write_text("packages: [")
    done = subprocess.run([sys.executable, str(REPO / "deploy.py"), "render"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.startswith("deploy.py render: error: manifest.yaml: not valid YAML")
    assert "Traceback" not in done.stderr


@responses.activate
def test_a_require_whisk_auth_password_is_never_printed(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    password = "whisk-pass-123456"
    manifest = (project / "manifest.yaml").read_text()
    (project / "manifest.yaml").write_text(
        manifest + f"        annotations:\n          require-whisk-auth: {password}\n")
    expect_server()
    responses.put(PACKAGE_URL, status=400, json={"error": f"bad annotation {password}"})

    dry_status, dry_out, _ = run(capsys, "--dry-run")
    status, out, _ = run(capsys)

    assert (dry_status, status) == (0, 1)
    assert '"key": "require-whisk-auth",\n      "value": "<hidden>"' in dry_out
    assert "HTTP 400: bad annotation <hidden>" in out
    assert password not in dry_out + out
