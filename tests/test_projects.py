"""Whole projects against a stateful OpenWhisk controller stand-in: deploy, change the manifest,
deploy again; the exact writes and the final state, feeds, rules, pruning and ownership."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
import requests

import deploy as cli
from tests.deploy_support import (
    FIXTURES,
    HELLO_ENV,
    REPO,
    alarm_project,
    copy_fixture,
    run_like_openwhisk,
)
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn, as_dict
from tools.manifest import load_manifest
from tools.runtimes.python.build import build_zips
from tools.sandbox import AdobeEmulator

ALARM = FIXTURES / "alarm_project" / "manifest.yaml"
FEED = "/whisk.system/alarms/alarm"
SECRET = HELLO_ENV["API_SECRET"]


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    return root


def deploy(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    status = cli.main(["deploy", *argv])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert AUTH.partition(":")[2] not in out + err
    assert SECRET not in out + err
    return out.splitlines()


def direct(ow: OpenWhiskStandIn, method: str, path: str, body: object = None) -> None:
    """A write made by someone else, straight to the controller."""
    with requests.Session() as http:
        http.trust_env = False
        answer = http.request(method, f"{ow.apihost}/api/v1/namespaces/ns/{path}", json=body,
                              auth=tuple(AUTH.split(":", 1)), timeout=10)
    assert answer.status_code == 200, answer.text


def edit(project: pathlib.Path, old: str, new: str) -> None:
    manifest = project / "manifest.yaml"
    assert old in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(old, new))


def test_a_first_deploy_creates_everything_in_order(project: pathlib.Path, ow: OpenWhiskStandIn,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = deploy(capsys)

    assert [call.brief for call in ow.writes()] == [
        "PUT packages/demo", "PUT packages/alarms-binding", "PUT actions/demo/hello",
        "PUT actions/demo/second", "PUT actions/demo/pipeline", "PUT triggers/every-five-minutes",
        "POST actions/alarms/alarm", "PUT rules/on-tick"]
    feed_call = ow.feeds.invocations[0]
    assert feed_call.feed == FEED.lstrip("/")
    assert {key: feed_call.body[key] for key in ("lifecycleEvent", "triggerName", "authKey",
                                                 "cron")} == {
        "lifecycleEvent": "CREATE", "triggerName": "/ns/every-five-minutes", "authKey": AUTH,
        "cron": "*/5 * * * *"}
    assert ow.feeds.registrations["/ns/every-five-minutes"]["trigger_payload"] == {
        "source": "alarm"}
    trigger = ow.view("triggers", "every-five-minutes")
    assert as_dict(trigger["parameters"]) == {}  # the feed's inputs went to the feed
    assert as_dict(trigger["annotations"])["feed"] == FEED
    rule = ow.view("rules", "on-tick")
    assert rule["status"] == "active"
    assert rule["action"] == {"path": "ns/demo", "name": "pipeline"}
    pipeline = ow.view("actions", "demo/pipeline")
    assert pipeline["exec"]["components"] == ["/ns/demo/hello", "/ns/demo/second"]
    assert as_dict(pipeline["annotations"])["web-export"] is True
    assert ow.view("packages", "alarms-binding")["binding"] == {"namespace": "whisk.system",
                                                                "name": "alarms"}
    for collection, name in (("packages", "demo"), ("actions", "demo/hello"),
                             ("triggers", "every-five-minutes"), ("rules", "on-tick")):
        managed = as_dict(ow.view(collection, name)["annotations"])["whisk-managed"]
        assert managed["projectName"] == "alarm-demo"
        assert managed["file"] == "manifest.yaml"
    assert "  demo/pipeline: " + ow.apihost + "/api/v1/web/ns/demo/pipeline" in out
    assert out[-1] == "Deployed project alarm-demo: 0 unchanged, 0 updated, 7 created, 0 pruned."


def test_a_second_deploy_of_an_unchanged_project_sends_nothing(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(capsys)
    ow.clear_calls()

    out = deploy(capsys)

    assert ow.writes() == []
    assert out[-1] == "Deployed project alarm-demo: 7 unchanged, 0 updated, 0 created, 0 pruned."
    assert len(ow.feeds.invocations) == 1


def test_a_changed_project_sends_only_the_change_and_prunes_what_left(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(capsys)
    ow.clear_calls()
    edit(project, "cron: '*/5 * * * *'", "cron: '0 * * * *'")  # a feed input
    edit(project, "actions: hello, second", "actions: hello")  # the sequence loses second...
    edit(project, "        second:\n          function: actions/hello\n          runtime: "
                  "python:3.11\n          main: handler\n", "")  # ...and the manifest too

    out = deploy(capsys)

    assert [call.brief for call in ow.writes()] == [
        "PUT actions/demo/pipeline",
        "POST actions/alarms/alarm", "PUT triggers/every-five-minutes",
        "POST actions/alarms/alarm",
        "DELETE actions/demo/second"]
    events = [call.body["lifecycleEvent"] for call in ow.calls_to("actions", "POST")]
    assert events == ["DELETE", "CREATE"]
    assert ow.feeds.registrations["/ns/every-five-minutes"]["cron"] == "0 * * * *"
    assert ow.view("rules", "on-tick")["status"] == "active"
    assert ow.names("actions") == ["demo/hello", "demo/pipeline"]
    assert "  pruned    action demo/second" in out
    assert out[-1] == "Deployed project alarm-demo: 4 unchanged, 2 updated, 0 created, 1 pruned."


def test_a_re_created_trigger_gets_its_rule_active_again(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(capsys)
    direct(ow, "DELETE", "triggers/every-five-minutes")  # someone re-creates the trigger
    direct(ow, "PUT", "triggers/every-five-minutes", {"annotations": [{"key": "feed",
                                                                       "value": FEED}]})
    assert ow.view("rules", "on-tick")["status"] == "inactive"
    ow.clear_calls()

    deploy(capsys)

    assert ow.view("rules", "on-tick")["status"] == "active"
    assert "POST rules/on-tick" in [call.brief for call in ow.writes()]


def test_no_prune_keeps_and_force_sends_everything(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(capsys)
    edit(project, "      dependencies:\n        alarms-binding:\n          location: "
                  "/whisk.system/alarms\n", "")
    ow.clear_calls()

    out = deploy(capsys, "--no-prune", "--force")

    assert "alarms-binding" in ow.names("packages")
    assert [call.brief for call in ow.writes() if call.method == "PUT"] == [
        "PUT packages/demo", "PUT actions/demo/hello", "PUT actions/demo/second",
        "PUT actions/demo/pipeline", "PUT triggers/every-five-minutes", "PUT rules/on-tick"]
    assert out[-1] == "Deployed project alarm-demo: 0 unchanged, 6 updated, 0 created, 0 pruned."


def test_entities_of_no_project_or_another_are_never_touched(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(capsys)
    theirs = [{"key": "whisk-managed", "value": {"projectName": "someone-else",
                                                  "file": "m.yaml", "projectHash": "0"}}]
    sequence = {"exec": {"kind": "sequence", "components": ["/ns/demo/hello"]}}
    direct(ow, "PUT", "packages/elsewhere", {})
    direct(ow, "PUT", "actions/elsewhere/unmanaged", sequence)
    direct(ow, "PUT", "packages/theirs", {"annotations": theirs})
    direct(ow, "PUT", "actions/theirs/owned", {**sequence, "annotations": theirs})

    edit(project, "        second:\n          function: actions/hello\n          runtime: "
                  "python:3.11\n          main: handler\n", "")
    edit(project, "actions: hello, second", "actions: hello")
    deploy(capsys)  # prunes second, and nothing of theirs

    assert ow.names("actions") == ["demo/hello", "demo/pipeline", "elsewhere/unmanaged",
                                   "theirs/owned"]

    assert cli.main(["undeploy", "--project", "alarm-demo"]) == 0
    out = capsys.readouterr().out

    assert ow.names("actions") == ["elsewhere/unmanaged", "theirs/owned"]
    assert ow.names("packages") == ["elsewhere", "theirs"]
    assert ow.names("triggers") == ow.names("rules") == []
    assert ow.feeds.registrations == {}
    assert out.splitlines()[-1] == "Undeployed: 6 deleted, 0 already gone."


def test_the_tutorial_s_app_builder_layout_deploys_and_answers_from_its_zip(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, ow: OpenWhiskStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "app"
    copy_fixture(FIXTURES / "app_builder_tutorial", root)
    action = root / "src" / "dx-excshell-1" / "actions" / "generic"
    shutil.rmtree(action)
    shutil.copytree(REPO / "actions" / "generic", action,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "lib", root / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    with AdobeEmulator() as adobe:
        credentials = {name: value for name, value in adobe.params().items()
                       if name != "IMS_ORG_ID"}
        (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in
                                           {**credentials, **ow.env()}.items()))
        monkeypatch.chdir(root)
        monkeypatch.setenv("HOME", str(tmp_path))

        out = deploy(capsys, "--manifest", "app.config.yaml")

        stored = ow.view("actions", "dx-excshell-1/generic")
        managed = as_dict(stored["annotations"])["whisk-managed"]
        code = __import__("base64").b64decode(stored["exec"]["code"])
        inputs = as_dict(stored["parameters"])
        activation = run_like_openwhisk(
            code, tmp_path, params=[{**inputs, "IMS_ORG_ID": adobe.org_id}], env=adobe.env(),
            action_name="/ns/dx-excshell-1/generic")
    assert out[-1].startswith("Deployed project dx-excshell-1")  # as aio names it
    assert (managed["projectName"], managed["file"]) == ("dx-excshell-1", "manifest.yml")
    assert activation.results[0]["statusCode"] == 200, activation.stderr
    assert json.dumps(activation.results[0]).count(adobe.org_id) >= 1


def test_the_repo_s_manifest_deploys_its_identity_as_init_parameters(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, ow: OpenWhiskStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    identity = {"OAUTHS2S_CLIENT_ID": "client", "OAUTHS2S_CLIENT_SECRET": SECRET,
                "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid", "IMS_ORG_ID": "ORG@AdobeOrg"}
    for name, value in {**identity, **ow.env()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "empty.env").write_text("")  # not the developer's .env

    deploy(capsys, "--manifest", str(REPO / "manifest.yaml"), "--env-file",
           str(tmp_path / "empty.env"))

    stored = ow.view("actions", "dx-excshell-1/generic")["parameters"]
    assert {item["key"]: item.get("init", False) for item in stored} == {
        "LOG_LEVEL": False, **dict.fromkeys(identity, True)}


def test_the_zip_answers_200_with_its_credentials_only_in_the_environment(
        tmp_path: pathlib.Path) -> None:
    manifest = load_manifest(REPO / "manifest.yaml", {}, blank_unset=lambda _: True)
    code = build_zips(manifest)[0].data
    with AdobeEmulator() as adobe:
        environment = {**adobe.env(), **adobe.params()}  # as /init exports init parameters
        activation = run_like_openwhisk(
            code, tmp_path, params=[{"LOG_LEVEL": "info"},
                                    {"LOG_LEVEL": "info", "IMS_ORG_ID": "CALLER@AdobeOrg"}],
            env=environment, action_name="/ns/dx-excshell-1/generic")
    assert activation.results[0]["statusCode"] == 200, activation.stderr
    assert activation.results[0]["body"]["imsOrgId"] == adobe.org_id
    refused = activation.results[1]["error"]
    assert refused["statusCode"] == 400  # a caller cannot add an identity field
    assert "IMS_ORG_ID" in refused["body"]["error"]
