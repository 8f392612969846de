"""``deploy.py new``: a new action that runs locally, passes its own test, builds and loads as
OpenWhisk loads it; refusals that write nothing; the manifest edited in place, comments kept."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.deploy_support import run_like_openwhisk
from tools.deploy.scaffold import insert_action
from tools.errors import ManifestError
from tools.manifest import load_manifest
from tools.sandbox import AdobeEmulator

REPO = pathlib.Path(__file__).resolve().parents[1]
IDENTITY_INPUTS = ("OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET",
                   "OAUTHS2S_CECREDENTIALS_METASCOPES", "IMS_ORG_ID")
ENTRY = "hello:\n  function: actions/hello\n  runtime: python:3.11\n"


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of this repository's action code, tools and manifest, without tests or .env."""
    root = tmp_path / "project"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("actions", "lib", "tools"):
        shutil.copytree(REPO / folder, root / folder, ignore=skip)
    for name in ("deploy.py", "manifest.yaml"):
        shutil.copy(REPO / name, root / name)
    return root


def run(project: pathlib.Path, *argv: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OAUTHS2S_", "IMS_", "AEM_", "AIO_"))}
    return subprocess.run([sys.executable, *argv], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def files_of(root: pathlib.Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()
            and "__pycache__" not in path.parts}


def test_a_new_action_runs_passes_its_test_builds_and_loads_like_openwhisk(
        project: pathlib.Path) -> None:
    before = (project / "manifest.yaml").read_text()

    made = run(project, "deploy.py", "new", "hello")

    assert made.returncode == 0, made.stderr
    for name in ("actions/hello/__init__.py", "actions/hello/action.py",
                 "actions/hello/__main__.py", "tests/test_hello_action.py"):
        assert (project / name).is_file(), name
        assert name in made.stdout
    assert "python -m actions.hello --sandbox" in made.stdout
    after = (project / "manifest.yaml").read_text()
    assert after.startswith(before)  # comments and the generic action as they were
    assert "      hello:\n        function: actions/hello\n        runtime: python:3.11\n" in after
    assert "from lib import" in (project / "actions/hello/action.py").read_text()
    assert "{value: $OAUTHS2S_CLIENT_SECRET, init: true}" in after

    local = run(project, "-m", "actions.hello", "--sandbox", "-p", "name=you")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["body"]["greeting"] == "hello, you"

    tested = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "tests/test_hello_action.py")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout

    built = run(project, "deploy.py", "build", "--out", "build")  # no .env: zips need none
    assert built.returncode == 0, built.stderr
    code = (project / "build/dx-excshell-1/hello.zip").read_bytes()
    with AdobeEmulator() as adobe:
        activation = run_like_openwhisk(
            code, project, params=[{**adobe.params(), "name": "zip"}], env=adobe.env(),
            action_name="/guest/dx-excshell-1/hello")
    assert activation.results[0]["statusCode"] == 200, activation.stderr
    assert activation.results[0]["body"]["greeting"] == "hello, zip"
    assert activation.loaded == []  # no tools, yaml or dotenv in the action


def test_a_new_action_in_a_new_package(project: pathlib.Path) -> None:
    made = run(project, "deploy.py", "new", "report", "--package", "reports")
    assert made.returncode == 0, made.stderr
    assert "Created action reports/report" in made.stdout
    assert "\n  reports:\n    actions:\n      report:\n" in (project / "manifest.yaml").read_text()
    again = run(project, "deploy.py", "new", "other")  # two packages now: which one?
    assert again.returncode == 2
    assert "several packages (dx-excshell-1, reports); choose one with --package" in again.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["generic"], "actions/generic already exists"),
    (["1st"], "must start with a letter"),
    (["_private"], "must start with a letter"),
    (["quota.alert"], "hold only letters, digits, - and _"),
    (["générique"], "hold only letters, digits, - and _"),
    (["class"], "makes the module class, a Python keyword"),
    (["from"], "makes the module from, a Python keyword"),
    (["match"], "makes the module match, a Python keyword"),
    (["type"], "makes the module type, a Python keyword"),
    (["lib"], "makes the module lib, the name of the project's own lib"),
    (["tools"], "the name of the project's own tools"),
    (["tests"], "the name of the project's own tests"),
    (["deploy"], "the name of the project's own deploy"),
    (["hello", "--manifest", "absent.yaml"], "absent.yaml: no such file"),
    (["hello", "--package", "bad/name"], "is not a valid OpenWhisk name"),
])
def test_a_refused_request_exits_2_and_writes_nothing(project: pathlib.Path, argv: list[str],
                                                      message: str) -> None:
    before = files_of(project)
    done = run(project, "deploy.py", "new", *argv)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert files_of(project) == before


def test_a_name_with_dashes_makes_a_module_with_underscores(project: pathlib.Path) -> None:
    made = run(project, "deploy.py", "new", "quota-alert")

    assert made.returncode == 0, made.stderr
    assert "Created action dx-excshell-1/quota-alert" in made.stdout
    assert "python -m actions.quota_alert --sandbox" in made.stdout
    assert (project / "actions/quota_alert/action.py").is_file()
    assert (project / "tests/test_quota_alert_action.py").is_file()
    manifest = (project / "manifest.yaml").read_text()
    assert "      quota-alert:\n        function: actions/quota_alert\n" in manifest
    local = run(project, "-m", "actions.quota_alert", "--sandbox")
    assert local.returncode == 0, local.stderr
    tested = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "tests/test_quota_alert_action.py")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    again = run(project, "deploy.py", "new", "quota_alert")  # the same module
    assert again.returncode == 2
    assert "actions/quota_alert already exists" in again.stderr


def test_the_entry_is_the_one_the_repositorys_own_action_has(project: pathlib.Path) -> None:
    assert run(project, "deploy.py", "new", "hello").returncode == 0
    env = {name: f"{name.lower()}-value" for name in IDENTITY_INPUTS}
    manifest = load_manifest(project / "manifest.yaml", env)
    generic, hello = (next(a for a in manifest.actions() if a.name == name)
                      for name in ("generic", "hello"))

    assert hello.init_inputs == generic.init_inputs == set(IDENTITY_INPUTS)
    assert hello.inputs == generic.inputs
    assert hello.all_annotations() == generic.all_annotations()
    assert hello.all_annotations()["final"] is True
    assert hello.limits == generic.limits
    assert hello.limits.memory == 128


@pytest.mark.parametrize("folder", ["actions", "tests"])
def test_a_linked_folder_that_leads_out_is_refused(project: pathlib.Path,
                                                   tmp_path: pathlib.Path, folder: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    if (project / folder).exists():
        shutil.move(project / folder, outside / folder)
    (project / folder).symlink_to(outside / folder if (outside / folder).exists() else outside,
                                  target_is_directory=True)
    before, elsewhere = files_of(project), files_of(outside)

    done = run(project, "deploy.py", "new", "hello")

    assert done.returncode == 2
    assert "outside the project" in done.stderr
    assert "a link on the way leads out; nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert files_of(project) == before
    assert files_of(outside) == elsewhere


def test_a_link_that_stays_inside_is_followed(project: pathlib.Path) -> None:
    (project / "checks").mkdir()
    (project / "tests").symlink_to(project / "checks", target_is_directory=True)
    done = run(project, "deploy.py", "new", "hello")
    assert done.returncode == 0, done.stderr
    assert (project / "checks/test_hello_action.py").is_file()


def test_an_action_the_manifest_already_has_is_refused(project: pathlib.Path) -> None:
    manifest = project / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("function: actions/generic",
                                                     "function: actions/generic/action.py"))
    shutil.move(project / "actions/generic", project / "elsewhere")  # the folder is free...
    manifest.write_text(manifest.read_text().replace("actions/generic/action.py",
                                                     "elsewhere/action.py"))
    done = run(project, "deploy.py", "new", "generic")  # ...but the name is taken
    assert done.returncode == 2
    assert "package dx-excshell-1 already has an action generic" in done.stderr


# --- the manifest edit ------------------------------------------------------------------------

def test_the_entry_goes_after_the_last_action_before_a_trailing_comment() -> None:
    text = textwrap.dedent("""\
        packages:   # ours
          demo:
            actions:
              one:
                function: a.py
                inputs:
                  TEXT: |
                    two lines
                    of text
            # a comment about what follows
          other:
            actions:
              two:
                function: b.py
        """)
    edited = insert_action(text, "demo", ENTRY, "m.yaml")
    assert edited == text.replace(
        "    # a comment", "      hello:\n        function: actions/hello\n"
                          "        runtime: python:3.11\n    # a comment")


def test_app_builder_runtime_manifest_and_a_missing_newline_at_the_end() -> None:
    text = ("application:\n  runtimeManifest:\n    packages:\n      app:\n"
            "        license: Apache-2.0\n        actions:\n          one:\n"
            "            function: a.py")
    edited = insert_action(text, "app", ENTRY, "app.config.yaml")
    assert edited.endswith("            function: a.py\n          hello:\n"
                           "            function: actions/hello\n"
                           "            runtime: python:3.11\n")


def test_a_package_without_actions_gets_them() -> None:
    text = "packages:\n  demo:\n    inputs:\n      A: 1\n"
    assert insert_action(text, "demo", ENTRY, "m.yaml") == (
        text + "    actions:\n      hello:\n        function: actions/hello\n"
               "        runtime: python:3.11\n")


@pytest.mark.parametrize(("text", "message"), [
    ("packages:\n  demo:\n    actions: {one: {function: a.py}}\n",
     "packages.demo.actions is not a block mapping"),
    ("packages: {demo: {actions: {}}}\n", "packages is not a block mapping"),
    ("name: nothing\n", "no packages found"),
    ("packages: [\n", "not valid YAML"),
])
def test_what_cannot_be_edited_in_place_is_an_error(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        insert_action(text, "demo", ENTRY, "m.yaml")
