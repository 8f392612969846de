"""wskdeploy deployment files: a deployment.yaml beside the manifest (or --deployment FILE)
binds its package, action and trigger inputs and annotations over the manifest's, as wskdeploy's
BindAssets does; refused as strictly as the manifest, and refused as a manifest."""

from __future__ import annotations

import io
import pathlib
import textwrap

import pytest

import deploy as cli
from tests.deploy_support import FIXTURES, HELLO_PROJECT, action_named, copy_fixture
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn
from tools.deploy import watch
from tools.deploy.operations import Options
from tools.deploy.watch import ProjectFiles
from tools.local.client import LocalClient
from tools.manifest import Manifest, ManifestError, UnsetVariablesError, load_manifest
from tools.project import ProjectSource

FIXTURE = FIXTURES / "deployment_project"
PROD_SECRET = "prod-s3cret-from-the-deployment-env"
ENV = {"REGION": "eu", "NAME": "world", "API_SECRET": "dev-secret-value",
       "PROD_API_SECRET": PROD_SECRET, "BUCKET": "prod"}
KEY = AUTH.partition(":")[2]


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    """The deployment project over the hello project's code; its folder."""
    root = tmp_path / "project"
    copy_fixture(HELLO_PROJECT, root)
    copy_fixture(FIXTURE, root)
    return root


def load(root: pathlib.Path, env: dict[str, str] | None = None, **kwargs: object) -> Manifest:
    return load_manifest(root / "manifest.yaml", ENV if env is None else env, **kwargs)


def refused(root: pathlib.Path, **kwargs: object) -> str:
    with pytest.raises(ManifestError) as raised:
        load(root, **kwargs)
    return str(raised.value)


def write(root: pathlib.Path, name: str, text: str) -> pathlib.Path:
    path = root / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---- what it binds -----------------------------------------------------------------------

def test_the_deployment_file_beside_the_manifest_overrides_and_adds_values(
        project: pathlib.Path) -> None:
    manifest = load(project)

    [package] = manifest.packages
    assert package.inputs == {"REGION": "eu", "TIER": "gold"}  # $REGION from the env; added
    assert package.annotations == {"owner": "deployment"}
    hello = action_named(manifest, "demo/hello")
    assert hello.inputs == {"name": "world", "greeting": "hello", "API_SECRET": PROD_SECRET,
                            "retries": 3, "audience": "everyone"}
    assert hello.annotations == {"stage": "prod"}
    [trigger] = manifest.triggers
    assert trigger.inputs == {"bucket": "prod-bucket", "region": "us"}  # ${BUCKET}; kept
    assert trigger.annotations == {"stage": "prod"}
    assert project / "deployment.yaml" in manifest.files


def test_a_plain_value_binds_a_typed_input_keeping_its_type_and_init_flag(
        project: pathlib.Path) -> None:
    write(project, "manifest.yaml", """\
        packages:
          demo:
            actions:
              hello:
                function: actions/hello
                runtime: python:3.11
                inputs:
                  retries: {type: integer, default: 1}
                  API_KEY: {value: dev-key, init: true}
        """)
    write(project, "deployment.yaml", """\
        packages:
          demo:
            actions:
              hello:
                inputs: {retries: "7", API_KEY: $PROD_API_SECRET}
        """)

    hello = action_named(load(project), "hello")

    assert hello.inputs == {"retries": 7, "API_KEY": PROD_SECRET}
    assert hello.init_inputs == {"API_KEY"}


def test_a_bad_value_from_the_deployment_file_is_said_to_be_there(
        project: pathlib.Path) -> None:
    (project / "deployment.yaml").write_text(
        (project / "deployment.yaml").read_text().replace("retries: 3", "retries: three"))

    message = refused(project)

    assert "project.packages.demo.actions.hello.inputs.retries.value: in deployment.yaml: " \
           "'three' is not a valid integer" in message


def test_unset_variables_of_the_deployment_file_are_listed_with_the_manifest_s(
        project: pathlib.Path) -> None:
    with pytest.raises(UnsetVariablesError) as raised:
        load(project, {"REGION": "eu"})

    assert set(raised.value.variables) == {"NAME", "PROD_API_SECRET", "BUCKET"}
    assert raised.value.variables["BUCKET"] == [
        "project.packages.demo.triggers.on-upload.inputs.bucket"]
    # The manifest's $API_SECRET was replaced by the deployment's value: it is not needed.
    assert "\n  API_SECRET:" not in str(raised.value)


def test_top_level_packages_and_project_inputs_bind_too(project: pathlib.Path) -> None:
    write(project, "deployment.yaml", """\
        project:
          inputs: {CHANNEL: '#prod', REGION: everywhere}
          packages:
            demo:
              actions:
                hello:
                  annotations: {stage: $BUCKET}
        """)

    manifest = load(project)

    # A project input reaches the package; the package's own REGION wins, as in wskdeploy.
    assert manifest.packages[0].inputs == {"REGION": "us", "CHANNEL": "#prod"}
    assert action_named(manifest, "hello").annotations == {"stage": "prod"}

    write(project, "deployment.yaml", "packages:\n  demo:\n    inputs: {REGION: top}\n")
    assert load(project).packages[0].inputs == {"REGION": "top"}


def test_a_value_shared_through_a_yaml_alias_is_bound_for_one_action_only(
        project: pathlib.Path) -> None:
    write(project, "manifest.yaml", """\
        packages:
          demo:
            actions:
              one:
                function: actions/hello
                runtime: python:3.11
                inputs: &shared {name: manifest}
              two:
                function: actions/hello
                runtime: python:3.11
                inputs: *shared
        """)
    write(project, "deployment.yaml", "packages:\n  demo:\n    actions:\n      one:\n"
                                      "        inputs: {name: deployment}\n")

    manifest = load(project)

    assert action_named(manifest, "one").inputs == {"name": "deployment"}
    assert action_named(manifest, "two").inputs == {"name": "manifest"}


def test_an_app_builder_config_reads_the_deployment_file_beside_it(
        tmp_path: pathlib.Path) -> None:
    copy_fixture(HELLO_PROJECT, tmp_path)
    write(tmp_path, "app.config.yaml", """\
        application:
          runtimeManifest:
            packages:
              shop:
                actions:
                  hello:
                    function: actions/hello
                    runtime: python:3.11
                    inputs: {name: manifest}
        """)
    write(tmp_path, "deployment.yaml", """\
        project:
          packages:
            shop:
              actions:
                hello:
                  inputs: {name: deployment}
        """)

    manifest = load_manifest(tmp_path / "app.config.yaml", {})

    assert action_named(manifest, "hello").inputs == {"name": "deployment"}
    assert tmp_path / "deployment.yaml" in manifest.files


# ---- which file --------------------------------------------------------------------------

def test_deployment_yml_is_read_when_there_is_no_deployment_yaml(project: pathlib.Path) -> None:
    (project / "deployment.yaml").rename(project / "deployment.yml")
    assert load(project).packages[0].annotations == {"owner": "deployment"}
    # deployment.yaml comes first, as wskdeploy looks for it first.
    write(project, "deployment.yaml", "packages:\n  demo:\n    annotations: {owner: yaml}\n")
    assert load(project).packages[0].annotations == {"owner": "yaml"}


def test_without_a_deployment_file_the_manifest_s_values_stand(project: pathlib.Path) -> None:
    (project / "deployment.yaml").unlink()
    manifest = load(project)
    assert action_named(manifest, "hello").inputs["name"] == "from-manifest"
    assert manifest.files == (project / "manifest.yaml",)


def test_a_named_deployment_file_wins_over_the_one_beside_the_manifest(
        project: pathlib.Path, tmp_path: pathlib.Path) -> None:
    other = write(tmp_path, "staging.yaml", """\
        packages:
          demo:
            actions:
              hello:
                inputs: {name: staging}
        """)

    manifest = load(project, deployment=other)

    hello = action_named(manifest, "hello")
    assert hello.inputs["name"] == "staging"
    assert hello.inputs["API_SECRET"] == ENV["API_SECRET"]  # deployment.yaml was not read
    assert other in manifest.files
    assert project / "deployment.yaml" not in manifest.files


def test_a_named_deployment_file_that_does_not_exist_is_an_error(project: pathlib.Path) -> None:
    assert refused(project, deployment=project / "absent.yaml") == (
        f"--deployment {project / 'absent.yaml'}: no such file")


# ---- refusals ----------------------------------------------------------------------------

def test_an_unknown_key_is_refused_by_its_path_in_the_deployment_file(
        project: pathlib.Path) -> None:
    message = refused(project, deployment=project / "unknown_key.yaml")
    assert message == (f"{project / 'unknown_key.yaml'}: project.packages.demo.actions.hello."
                       "input: unknown key (known in a deployment file: inputs, annotations)")


@pytest.mark.parametrize(("text", "where", "says"), [
    ("packages:\n  demo:\n    sequences: {}\n", "packages.demo.sequences",
     "belongs in the manifest: a deployment file binds only inputs and annotations"),
    ("packages:\n  demo:\n    actions:\n      hello: {function: x.py}\n",
     "packages.demo.actions.hello.function", "pass it as --manifest"),
    ("project:\n  credential: abc\n", "project.credential", "is not read from a deployment file"),
    ("packages:\n  demo:\n    inputs: [a, b]\n", "packages.demo.inputs",
     "must be a mapping, not a list"),
    ("project: {packages: {}}\npackages: {}\n", "packages", "not both"),
])
def test_what_a_deployment_file_cannot_hold_is_refused_by_its_path(
        project: pathlib.Path, text: str, where: str, says: str) -> None:
    (project / "deployment.yaml").write_text(text)
    message = refused(project)
    assert message.startswith(f"{project / 'deployment.yaml'}: {where}: ")
    assert says in message


def test_bad_yaml_in_the_deployment_file_is_refused_naming_it(project: pathlib.Path) -> None:
    (project / "deployment.yaml").write_text("packages:\n  demo: [unclosed\n")
    assert refused(project).startswith(f"{project / 'deployment.yaml'}: not valid YAML: ")
    (project / "deployment.yaml").write_text("packages:\n  demo: {}\n  demo: {}\n")
    assert "duplicate key 'demo'" in refused(project)


def test_a_deployment_file_that_is_no_regular_file_is_refused(project: pathlib.Path) -> None:
    (project / "deployment.yaml").unlink()
    (project / "deployment.yaml").mkdir()
    assert "deployment.yaml: cannot read: not a regular file" in refused(project)


@pytest.mark.parametrize(("entity", "text", "says"), [
    ("package", "packages:\n  shop:\n    inputs: {a: 1}\n",
     "packages.shop: package 'shop' is not in the manifest {manifest} (its packages: demo)"),
    ("action", "packages:\n  demo:\n    actions:\n      bye:\n        inputs: {a: 1}\n",
     "packages.demo.actions.bye: action 'bye' is not in package 'demo' of the manifest "
     "{manifest} (its actions: hello)"),
    ("trigger", "packages:\n  demo:\n    triggers:\n      nightly:\n        inputs: {a: 1}\n",
     "packages.demo.triggers.nightly: trigger 'nightly' is not in the manifest {manifest} "
     "(its triggers: on-upload)"),
])
def test_an_entity_the_manifest_lacks_is_an_error_naming_it(
        project: pathlib.Path, entity: str, text: str, says: str) -> None:
    (project / "deployment.yaml").write_text(text)
    assert refused(project) == (f"{project / 'deployment.yaml'}: "
                                + says.format(manifest=project / "manifest.yaml"))


def test_a_project_name_mismatch_names_both(project: pathlib.Path) -> None:
    path = project / "deployment.yaml"
    path.write_text(path.read_text().replace("name: deployment-demo", "name: other-project"))
    assert refused(project) == (
        f"{path}: project.name: 'other-project' is not the manifest's project "
        f"'deployment-demo' (project.name in {project / 'manifest.yaml'}): a deployment file "
        "binds values to its own project")


def test_project_names_compare_with_their_variables_resolved(project: pathlib.Path) -> None:
    path = project / "deployment.yaml"
    path.write_text(path.read_text().replace("name: deployment-demo", "name: ${PROJECT}-demo"))
    assert load(project, {**ENV, "PROJECT": "deployment"}).packages[0].inputs["TIER"] == "gold"
    assert "'other-demo' is not the manifest's project" in refused(
        project, env={**ENV, "PROJECT": "other"})


def test_a_deployment_file_given_as_the_manifest_is_refused_saying_what_it_is(
        project: pathlib.Path) -> None:
    path = project / "deployment.yaml"
    expected = (f"{path} is a wskdeploy deployment file (it binds inputs to a manifest's "
                "entities); pass it as --deployment and the manifest as --manifest")
    with pytest.raises(ManifestError) as raised:
        load_manifest(path, ENV)
    assert str(raised.value) == expected
    # Under any name: it reads as a deployment file and binds something.
    renamed = project / "prod.yaml"
    path.rename(renamed)
    with pytest.raises(ManifestError, match=r"prod\.yaml is a wskdeploy deployment file"):
        load_manifest(renamed, ENV)
    # Package inputs or triggers alone are no sign: that may be a manifest (or the manifest
    # reader says what it lacks).
    renamed.write_text("packages:\n  demo:\n    inputs: {X: 1}\n")
    try:
        load_manifest(renamed, ENV)
    except ManifestError as exc:
        assert "deployment file" not in str(exc)  # noqa: PT017


# ---- the command lines -------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert PROD_SECRET not in out + err
    assert KEY not in out + err
    return status, out, err


@pytest.fixture
def at_project(project: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
               tmp_path: pathlib.Path) -> pathlib.Path:
    """The project as the working directory, ENV in its .env, no ~/.wskprops of the user's."""
    (project / ".env").write_text("".join(f"{key}={value}\n" for key, value in ENV.items()))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(tmp_path))
    return project


def test_render_shows_the_bound_values_with_secrets_masked(
        at_project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "render")
    assert status == 0
    for bound in ("name: world", "audience: everyone", "TIER: gold"):
        assert bound in out
    assert "API_SECRET: <hidden>" in out

    write(at_project, "staging.yaml", "packages:\n  demo:\n    inputs: {TIER: silver}\n")
    status, out, _ = run(capsys, "render", "--deployment", "staging.yaml")
    assert status == 0
    assert "TIER: silver" in out
    assert "name: from-manifest" in out


@pytest.mark.parametrize(("argv", "says"), [
    (["render", "--deployment", "absent.yaml"], "--deployment absent.yaml: no such file"),
    (["build", "--deployment", "unknown_key.yaml"], "hello.input: unknown key"),
    (["render", "--manifest", "deployment.yaml"], "deployment.yaml is a wskdeploy deployment "
                                                  "file"),
    (["list", "--deployment", "absent.yaml"], "--deployment absent.yaml: no such file"),
    (["undeploy", "--dry-run", "--deployment", "absent.yaml"], "no such file"),
    (["logs", "--deployment", "absent.yaml"], "--deployment absent.yaml: no such file"),
])
def test_each_command_that_reads_the_manifest_takes_deployment(
        at_project: pathlib.Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        says: str) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.startswith(f"deploy.py {argv[0]}: error: ")
    assert says in err


def test_deploy_sends_the_deployment_file_s_values(
        at_project: pathlib.Path, ow: OpenWhiskStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "deploy", *ow.argv())
    assert status == 0, out + err

    package = ow.view("packages", "demo")
    assert {p["key"]: p["value"] for p in package["parameters"]} == {"REGION": "eu",
                                                                     "TIER": "gold"}
    assert {"key": "owner", "value": "deployment"} in package["annotations"]
    action = ow.view("actions", "demo/hello")  # the package's parameters merged, as served
    assert {p["key"]: p["value"] for p in action["parameters"]} == {
        "name": "world", "greeting": "hello", "API_SECRET": PROD_SECRET, "retries": 3,
        "audience": "everyone", "REGION": "eu", "TIER": "gold"}
    assert {"key": "stage", "value": "prod"} in action["annotations"]
    trigger = ow.view("triggers", "on-upload")
    assert {p["key"]: p["value"] for p in trigger["parameters"]} == {"bucket": "prod-bucket",
                                                                     "region": "us"}
    assert {"key": "stage", "value": "prod"} in trigger["annotations"]


def test_watch_watches_the_deployment_file_and_deploys_its_change(
        at_project: pathlib.Path, ow: OpenWhiskStandIn) -> None:
    source = ProjectSource(at_project / "manifest.yaml", at_project / ".env")
    files = ProjectFiles(source)
    files.learn(source.load())
    assert at_project / "deployment.yaml" in source.watched_files(files.manifest)
    (at_project / "deployment.yaml").unlink()
    # Before the project loads (or once it did without one), creating it is a change too.
    assert at_project / "deployment.yaml" in source.roots(load(at_project))
    assert at_project / "deployment.yaml" not in source.roots(None)
    copy_fixture(FIXTURE, at_project)

    def edit_deployment(_seconds: float) -> None:
        ow.clear_calls()
        path = at_project / "deployment.yaml"
        path.write_text(path.read_text().replace("audience: everyone", "audience: staff"))

    out = io.StringIO()
    options = Options(apihost=ow.apihost, auth=AUTH, namespace="ns")
    assert watch.watch(at_project / "manifest.yaml", None, options, out=out, max_cycles=1,
                       sleep=edit_deployment) == 0

    assert [call.brief for call in ow.writes()] == ["PUT actions/demo/hello"]
    assert " sent action demo/hello in " in out.getvalue()
    assert PROD_SECRET not in out.getvalue()
    parameters = ow.view("actions", "demo/hello")["parameters"]
    assert {"key": "audience", "value": "staff"} in parameters


def test_watch_with_a_named_deployment_file_watches_that_file(
        project: pathlib.Path, tmp_path: pathlib.Path) -> None:
    named = write(tmp_path, "staging.yaml", "packages:\n  demo:\n    inputs: {TIER: silver}\n")
    source = ProjectSource.from_flags(project / "manifest.yaml", None, named)
    assert source.roots(None)[-1] == named
    assert named in source.roots(source.load(ENV))
    assert project / "deployment.yaml" not in source.roots(source.load(ENV))


def test_local_runs_use_the_deployment_file(project: pathlib.Path, tmp_path: pathlib.Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with LocalClient(project / "manifest.yaml", None) as client:
        assert client.action("demo/hello").params["audience"] == "everyone"
    named = write(tmp_path, "staging.yaml", "packages:\n  demo:\n    actions:\n      hello:\n"
                                            "        inputs: {audience: staff}\n")
    with LocalClient(project / "manifest.yaml", None, deployment=named) as client:
        assert client.action("demo/hello").params["audience"] == "staff"
