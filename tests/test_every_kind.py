"""Every action kind the peers deploy, beside the Python ones: a Node.js file (its kind from
its extension), a Node.js folder (its family's default kind), a Java jar, a docker image,
native code and inline code; deployed to the controller stand-in as wskdeploy sends them."""

from __future__ import annotations

import base64
import io
import pathlib
import signal
import subprocess
import sys
import zipfile

import pytest

from tests.deploy_support import FIXTURES, REPO, copy_fixture, deploy_cli, in_project
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn
from tools.manifest import load_manifest
from tools.runtimes.as_is import Archive, CodeFolder, DockerImage, InlineCode, SourceFile
from tools.runtimes.python.code import PythonPackage

KEY = AUTH.partition(":")[2]


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    root = tmp_path / "mixed"
    copy_fixture(FIXTURES / "mixed_project", root)
    (root / "java").mkdir()
    (root / "java" / "hello.jar").write_bytes(_zip({"Hello.class": "\xca\xfe\xba\xbe"}))
    (root / "node" / "lib").mkdir()
    (root / "node" / "lib" / "exec.zip").write_bytes(_zip({"exec": "#!/bin/sh\necho {}\n"}))
    (root / "node" / "app" / ".env").write_text("SECRET=never-shipped\n")
    return in_project(root, tmp_path, monkeypatch, ow.env())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    return deploy_cli(capsys, *argv)


def test_each_kind_is_read_in_its_own_form(project: pathlib.Path) -> None:
    actions = {a.name: a for a in load_manifest(project / "manifest.yaml", {}).actions()}
    assert isinstance(actions["greet"].code, PythonPackage)
    assert (type(actions["hello-js"].code), actions["hello-js"].kind,
            actions["hello-js"].default_of) == (SourceFile, "nodejs:20", "nodejs")
    assert (type(actions["app"].code), actions["app"].default_of) == (CodeFolder, "nodejs")
    assert (type(actions["java-hello"].code), actions["java-hello"].main) == (Archive, "Hello")
    assert actions["dockered"].code == DockerImage("openwhisk/example")
    assert actions["dockered"].kind == "blackbox"
    skeleton = actions["skeleton"].code
    assert isinstance(skeleton, DockerImage)
    assert skeleton.image == "openwhisk/dockerskeleton"
    assert isinstance(actions["inline"].code, InlineCode)
    assert actions["greet"].descriptive == {"description": "a Python action, built as every "
                                                           "Python action is"}


def test_a_mixed_project_deploys_each_kind_as_wskdeploy_sends_it(project, ow, capsys):
    ow.store.kinds["nodejs"] = ("nodejs:18", "nodejs:20")  # this server's default: 18
    status, out = run(capsys, "deploy")
    assert status == 0, out
    held = {name: ow.view("actions", f"mixed/{name}", code="true")["exec"]
            for name in ("greet", "hello-js", "app", "java-hello", "dockered", "skeleton",
                         "inline")}
    assert held["greet"]["kind"] == "python:3.11"
    assert held["greet"]["binary"]
    source = (project / "node" / "hello.js").read_text()
    assert (held["hello-js"]["kind"], held["hello-js"]["code"], held["hello-js"]["binary"]) == (
        "nodejs:18", source, False)  # the server's default, the file as text
    assert held["app"]["kind"] == "nodejs:18"
    assert held["app"]["binary"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(held["app"]["code"]))) as archive:
        assert sorted(archive.namelist()) == ["greet.js", "index.js", "package.json"]
    jar = base64.b64decode(held["java-hello"]["code"])
    assert jar == (project / "java" / "hello.jar").read_bytes()
    assert (held["java-hello"]["kind"], held["java-hello"]["main"]) == ("java:8", "Hello")
    assert held["dockered"] == {"kind": "blackbox", "image": "openwhisk/example"}
    assert held["skeleton"]["image"] == "openwhisk/dockerskeleton"
    assert held["skeleton"]["binary"]
    assert held["inline"]["code"].startswith("function main(params)")
    assert "/api/v1/web/ns/mixed/hello-js" in out

    ow.clear_calls()
    status, out = run(capsys, "deploy")
    assert status == 0, out
    assert "0 updated, 0 created" in out  # every kind compares as unchanged
    assert not ow.writes()


def test_a_kind_the_server_lacks_is_refused_before_anything_is_sent(project, ow, capsys):
    del ow.store.kinds["java"]
    status, out = run(capsys, "deploy")
    assert status == 2
    assert "does not run java:8" in out
    assert not ow.writes()


def test_offline_the_stock_defaults_stand_in(project, capsys):
    status, out = run(capsys, "render")
    assert status == 0, out
    assert "runtime: nodejs:20" in out
    assert "description: a Python action" in out  # descriptive keys are shown
    assert "stock OpenWhisk's default nodejs kind" in out


def test_java_needs_its_main_which_a_deploy_checks_first(project, ow, capsys):
    manifest = project / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("          main: Hello\n", ""))
    loaded = load_manifest(manifest, {})
    assert any("java-hello: no main: java:8 actions need the class" in warning
               for warning in loaded.warnings)  # it loads, as wskdeploy loads it
    status, out = run(capsys, "deploy")
    assert status == 2
    assert "mixed/java-hello: no main" in out
    assert not ow.writes()


def test_only_python_actions_run_locally(project):
    from tools.local.client import LocalClient

    with LocalClient(project / "manifest.yaml", project / ".env") as client:
        assert [local.action.name for local in client.actions] == ["greet"]


def test_a_node_file_with_includes_ships_as_a_zip_of_both(project, ow, capsys):
    manifest = project / "manifest.yaml"
    (project / "data.json").write_text('{"a": 1}')
    manifest.write_text(manifest.read_text().replace(
        "          function: node/hello.js\n",
        "          function: node/hello.js\n"
        "          include:\n            - [data.json, conf/]\n"))
    status, out = run(capsys, "deploy")
    assert status == 0, out
    held = ow.view("actions", "mixed/hello-js", code="true")["exec"]
    assert held["binary"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(held["code"]))) as archive:
        assert sorted(archive.namelist()) == ["conf/data.json", "hello.js"]


def test_serving_locally_names_the_web_actions_that_run_only_on_openwhisk(project):
    manifest = project / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "          runtime: python:3.11\n", "          runtime: python:3.11\n          web: yes\n"))
    server = subprocess.Popen(
        [sys.executable, "-m", "tools.local", "mixed/greet", "--serve", "--port", "0",
         "--manifest", str(manifest)], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in server.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Not served here") or len(lines) > 20:
                break
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert "Not served here: mixed/hello-js (nodejs:20 runs only on OpenWhisk)\n" in lines
