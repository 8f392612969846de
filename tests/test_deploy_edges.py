"""Edges of a deploy: a feed that refuses its trigger, a feed still running, many secrets,
secret feed inputs in a dry run, and the load check of zips with wheels for another machine."""

from __future__ import annotations

import pathlib

import pytest
import responses

import deploy as cli
from tests.deploy_support import HELLO_ENV, alarm_project
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn
from tools.deploy.client import Client, OpenWhiskError
from tools.deploy.credentials import Credentials
from tools.deploy.target import project_secrets
from tools.manifest import load_manifest
from tools.runtimes.python import build as build_module


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    return root


def test_a_trigger_whose_feed_refuses_it_is_taken_away_and_a_rerun_completes(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = project / "manifest.yaml"
    good = manifest.read_text()
    manifest.write_text(good.replace("cron: '*/5 * * * *'", "cron: 'bad'"))

    assert cli.main(["deploy"]) == 1
    assert "every-five-minutes" not in ow.names("triggers")  # not left half made
    assert ow.feeds.registrations == {}
    capsys.readouterr()

    manifest.write_text(good)
    assert cli.main(["deploy"]) == 0
    assert ow.feeds.registrations["/ns/every-five-minutes"]["cron"] == "*/5 * * * *"
    assert ow.view("rules", "on-tick")["status"] == "active"
    assert cli.main(["undeploy", "--project", "alarm-demo"]) == 0


@responses.activate
def test_a_feed_call_still_running_is_no_success() -> None:
    url = "https://ow.test/api/v1/namespaces/whisk.system/actions/alarms/alarm"
    responses.post(url, status=202, json={"activationId": "abc123"})
    client = Client(Credentials("https://ow.test", AUTH, "ns", "test"))
    with pytest.raises(OpenWhiskError, match="did not finish in time; its activation abc123"):
        client.invoke("/whisk.system/alarms/alarm", {"lifecycleEvent": "CREATE"}, "feed")


def test_the_auth_key_stays_masked_however_many_secrets_a_project_has(
        tmp_path: pathlib.Path) -> None:
    inputs = "".join(f"          SECRET_{n}: value-of-secret-number-{n:03d}\n" for n in range(100))
    (tmp_path / "hello.py").write_text("def main(params):\n    return {}\n")
    (tmp_path / "manifest.yaml").write_text(
        "packages:\n  demo:\n    actions:\n      hello:\n        function: hello.py\n"
        "        runtime: python:3.11\n        inputs:\n" + inputs)
    manifest = load_manifest(tmp_path / "manifest.yaml", {})
    secrets = project_secrets(manifest, Credentials("https://ow.test", AUTH, "ns", "t"))
    shown = secrets.mask(f"auth {AUTH} and value-of-secret-number-000 and -099")
    assert AUTH.partition(":")[2] not in shown
    assert "value-of-secret-number-000" not in shown


def test_a_dry_run_masks_secret_named_feed_inputs_however_short(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = project / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "            trigger_payload:\n",
        "            password: pw1\n            trigger_payload:\n"))
    assert cli.main(["deploy", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"password": "<hidden>"' in out
    assert "pw1" not in out


def test_zips_with_wheels_for_another_machine_are_not_load_checked_here(
        project: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    monkeypatch.setattr(build_module, "check_loads",
                        lambda action, data: checked.append(action.qualified_name))
    action = load_manifest(project / "manifest.yaml", HELLO_ENV).actions()[0]
    monkeypatch.setattr(build_module.platform, "machine", lambda: "arm64")
    build_module.build_zip(action, project, {"wheel_mod.cpython-311-x86_64-linux-gnu.so": b"x"})
    assert checked == []
    build_module.build_zip(action, project)  # nothing vendored: checked wherever it builds
    assert checked == ["demo/hello"]
