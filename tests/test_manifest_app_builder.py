"""App Builder's app.config.yaml: $include, paths relative to the declaring file, the application
and every extension merged, the app's name, and the tutorial's own layout."""

from __future__ import annotations

import json
import pathlib

import pytest

import deploy as deploy_cli
from tests.deploy_support import FIXTURES, REPO, action_named, copy_fixture
from tools.manifest import ManifestError, UnsetVariablesError, default_manifest, load_manifest
from tools.manifest.yaml_file import MAX_EXPANDED_NODES
from tools.textfile import MAX_TEXT_FILE_BYTES

TUTORIAL = FIXTURES / "app_builder_tutorial"
TUTORIAL_ENV = {"OAUTHS2S_CLIENT_ID": "cid", "OAUTHS2S_CLIENT_SECRET": "secret-1234",
                "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID"}
PROJECT = FIXTURES / "app_builder_project"
PROJECT_ENV = {"REGION": "eu", "WORKER_API_KEY": "worker-key-5678"}
EXTENSION = "extensions.dx/excshell/1.runtimeManifest.packages.dx-excshell-1.actions.generic"
ACTION = "{function: actions/hello.py, runtime: 'python:3.11'}"


def write(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """``files`` under ``root`` with an actions/hello.py beside them; app.config.yaml's path."""
    for name, text in {"actions/hello.py": "def main(params):\n    return {}\n",
                       **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "app.config.yaml"


# --- the tutorial ------------------------------------------------------------------------------

def test_the_tutorial_loads_with_its_function_relative_to_ext_config_yaml() -> None:
    manifest = load_manifest(TUTORIAL / "app.config.yaml", TUTORIAL_ENV)

    action = action_named(manifest, "dx-excshell-1/generic")
    extension = TUTORIAL / "src" / "dx-excshell-1"
    assert action.code.path == extension / "actions" / "generic"
    assert (action.code.module, action.code.source_root) == ("actions.generic", extension)
    assert (action.kind, action.main, action.web) == ("python:3.11", "main", "yes")
    assert action.inputs == {"LOG_LEVEL": "debug", **TUTORIAL_ENV}
    assert action.annotations == {"require-adobe-auth": False, "final": True}
    assert manifest.path == TUTORIAL / "app.config.yaml"
    assert manifest.project == "dx-excshell-1"  # aio's: its first package
    assert manifest.managed_file == "manifest.yml"  # what aio writes in whisk-managed
    assert (manifest.triggers, manifest.rules, manifest.bindings) == ((), (), ())


def test_the_tutorial_action_matches_the_repository_manifest_but_for_its_files() -> None:
    """The repo's manifest.yaml mirrors the tutorial's ext.config.yaml (plus IMS_ORG_ID)."""
    tutorial = load_manifest(TUTORIAL / "app.config.yaml", TUTORIAL_ENV).actions()[0]
    repo = load_manifest(REPO / "manifest.yaml", {**TUTORIAL_ENV, "IMS_ORG_ID": "o"}).actions()[0]

    for field in ("package", "name", "kind", "main", "web", "annotations"):
        assert getattr(tutorial, field) == getattr(repo, field), field
    assert tutorial.code.module == repo.code.module
    assert tutorial.inputs.keys() <= repo.inputs.keys()


def test_unset_variables_in_an_included_file_are_listed_by_their_path() -> None:
    with pytest.raises(UnsetVariablesError) as caught:
        load_manifest(TUTORIAL / "app.config.yaml", {})

    assert caught.value.variables == {name: [f"{EXTENSION}.inputs.{name}"]
                                      for name in TUTORIAL_ENV}
    assert str(caught.value).startswith(f"{TUTORIAL / 'app.config.yaml'}: ")


# --- a project over several files ----------------------------------------------------------------

def test_the_application_and_every_extension_are_merged() -> None:
    manifest = load_manifest(PROJECT / "app.config.yaml", PROJECT_ENV)

    assert [p.name for p in manifest.packages] == ["shop", "worker"]
    assert [a.qualified_name for a in manifest.actions()] == [
        "shop/hello", "shop/report", "worker/process"]
    assert [s.qualified_name for s in manifest.sequences()] == ["shop/hello-then-report"]
    assert manifest.sequences()[0].components == ("shop/hello", "shop/report")
    assert manifest.package("shop").inputs == {"REGION": "eu"}  # declared twice, alike
    assert manifest.project == "shop"  # the first package, as aio names the project


def test_paths_are_relative_to_the_file_that_declares_them() -> None:
    manifest = load_manifest(PROJECT / "app.config.yaml", PROJECT_ENV)

    hello = action_named(manifest, "hello")  # in app.config.yaml
    assert hello.code.path == PROJECT / "actions" / "hello.py"
    assert hello.includes == ((PROJECT / "data" / "a.txt", "assets/a.txt"),
                              (PROJECT / "data" / "b.txt", "assets/b.txt"))
    report = action_named(manifest, "report")  # in src/excshell/runtime.yaml
    assert report.code.path == PROJECT / "src" / "excshell" / "actions" / "report.py"
    assert report.includes == ((PROJECT / "src" / "excshell" / "templates" / "report.html",
                                "templates/report.html"),)
    process = action_named(manifest, "process")  # function from src/shared/python-action.yaml
    assert process.code.path == PROJECT / "src" / "shared" / "code" / "process.py"


def test_the_siblings_of_an_include_win_over_what_it_brings() -> None:
    process = action_named(load_manifest(PROJECT / "app.config.yaml", PROJECT_ENV), "process")

    assert process.web == "no"  # the include says raw; its sibling says no
    assert process.limits.timeout == 60000  # only the include says it
    assert process.inputs == {"WORKER_API_KEY": "worker-key-5678", "MODE": "fast"}
    assert process.init_inputs == {"WORKER_API_KEY"}


def test_include_keeps_the_included_keys_first(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, {
        "app.config.yaml": "application:\n  runtimeManifest:\n    packages:\n      p:\n"
                           "        actions:\n          b: " + ACTION + "\n"
                           "          $include: more.yaml\n",
        "more.yaml": f"a: {ACTION}\nc: {ACTION}\n"})

    assert [a.name for a in load_manifest(path, {}).actions()] == ["a", "c", "b"]


def test_an_include_at_the_top_and_a_top_level_runtime_manifest(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, {
        "app.config.yaml": "$include: conf/base.yaml\n",
        "conf/base.yaml": "runtimeManifest:\n  packages:\n    p:\n      actions:\n"
                          "        a: {function: ../actions/hello.py, runtime: 'python:3.11'}\n"})

    assert load_manifest(path, {}).actions()[0].code.path == tmp_path / "actions" / "hello.py"


@pytest.mark.parametrize(("package_json", "expected"), [
    ({"name": "@org/app", "version": "1.0.0"}, "app-1.0.0"),
    ({"name": "plain-app"}, "plain-app-0.1.0"), ({"version": "2.0.0"}, "unnamed-app-2.0.0"),
    (None, "unnamed-app-0.1.0")])
def test_app_package_is_the_apps_name_and_version_as_aio_has_it(
        tmp_path: pathlib.Path, package_json: dict[str, str] | None, expected: str) -> None:
    files = {"app.config.yaml": f"application:\n  runtimeManifest:\n    packages:\n"
                                f"      __APP_PACKAGE__: {{actions: {{a: {ACTION}}}}}\n"}
    if package_json is not None:
        files["package.json"] = json.dumps(package_json)
    manifest = load_manifest(write(tmp_path, files), {})
    assert ([p.name for p in manifest.packages], manifest.project) == ([expected], expected)


def test_otherwise_the_project_is_the_first_package(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, {
        "app.config.yaml": f"application:\n  runtimeManifest:\n    packages:\n"
                           f"      first: {{actions: {{a: {ACTION}}}}}\n"
                           f"      second: {{actions: {{b: {ACTION}}}}}\n",
        "package.json": json.dumps({"name": "app", "version": "1.0.0"})})
    assert load_manifest(path, {}).project == "first"


@pytest.mark.parametrize(("package_json", "words"), [
    ("{not json", "package.json beside it cannot be read"),
    ('{"name": 7}', "'name' must be a string"),
])
def test_a_broken_package_json_is_named(tmp_path: pathlib.Path, package_json: str,
                                        words: str) -> None:
    path = write(tmp_path, {
        "app.config.yaml": f"runtimeManifest:\n  packages:\n    p: {{actions: {{a: {ACTION}}}}}\n",
        "package.json": package_json})
    with pytest.raises(ManifestError, match=words) as caught:
        load_manifest(path, {})
    assert str(caught.value).startswith(f"{path}: ")


def test_the_wskdeploy_project_name_and_none_for_plain_packages(tmp_path: pathlib.Path) -> None:
    write(tmp_path, {})
    (tmp_path / "one.yaml").write_text(
        f"project:\n  name: shop\n  packages:\n    p: {{actions: {{a: {ACTION}}}}}\n")
    (tmp_path / "two.yaml").write_text(f"packages:\n  p: {{actions: {{a: {ACTION}}}}}\n")
    (tmp_path / "package.json").write_text('{"name": "ignored-for-wskdeploy"}')

    assert load_manifest(tmp_path / "one.yaml", {}).project == "shop"
    assert load_manifest(tmp_path / "two.yaml", {}).project is None


# --- faults ------------------------------------------------------------------------------------

APP = "application:\n  runtimeManifest:\n    packages:\n      p:\n        actions:\n"
FAULTS = [
    # (files, the path named, words of the message)
    ({"app.config.yaml": "extensions:\n  x:\n    $include: src/a.yaml\n",
      "src/a.yaml": "more:\n  $include: b.yaml\n", "src/b.yaml": "$include: a.yaml\n"},
     "extensions.x.more.$include",
     "include cycle: app.config.yaml -> src/a.yaml -> src/b.yaml -> src/a.yaml"),
    ({"app.config.yaml": "application:\n  $include: app.config.yaml\n"},
     "application.$include", "include cycle: app.config.yaml -> app.config.yaml"),
    ({"app.config.yaml": "extensions:\n  x:\n    $include: src/ext.yaml\n",
      "src/ext.yaml": "runtimeManifest:\n  $include: missing.yaml\n"},
     "extensions.x.runtimeManifest.$include",
     "src/missing.yaml: no such file (app.config.yaml -> src/ext.yaml -> src/missing.yaml)"),
    ({"app.config.yaml": "application:\n  $include: list.yaml\n", "list.yaml": "- a\n- b\n"},
     "application.$include", "list.yaml must hold a mapping, not a list"),
    ({"app.config.yaml": "application:\n  $include: [a.yaml]\n"},
     "application.$include", "must be the path of a YAML file"),
    ({"app.config.yaml": 'application:\n  $include: "a\\0"\n'},
     "application.$include", "'a\\x00' cannot be resolved"),
    ({"app.config.yaml": "application:\n  $include: src\n", "src/x.yaml": ""},
     "application.$include", "src: cannot read"),
    ({"app.config.yaml": "application:\n  $include: bad.yaml\n", "bad.yaml": "a: [\n"},
     "application.$include", "bad.yaml: not valid YAML"),
    ({"app.config.yaml": "application:\n  $include: bomb.yaml\n",
      "bomb.yaml": 'a0: &a0 ["lol"]\n' + "".join(
          f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 10))},
     "application.$include", "aliases expand to more than"),
    ({"app.config.yaml": "application:\n  $include: dup.yaml\n", "dup.yaml": "a: 1\na: 2\n"},
     "application.$include", "duplicate key"),
    ({"app.config.yaml": "application:\n  web: web-src\nextensions: {x: {operations: {}}}\n"},
     "", "no runtimeManifest at the top, under application or under an extension"),
    ({"app.config.yaml": "application: [runtimeManifest]\n"}, "application",
     "must be a mapping, not a list"),
    ({"app.config.yaml": "extensions:\n  x:\n    runtimeManifest:\n      packages: {}\n"},
     "extensions.x.runtimeManifest.packages", "defines no package"),
    ({"app.config.yaml": "application:\n  runtimeManifest:\n    actions: {}\n"},
     "application.runtimeManifest.actions", "unknown key"),
    ({"app.config.yaml": APP + f"          a: {ACTION}\n"
                               "extensions:\n  x:\n    $include: src/x.yaml\n",
      "src/x.yaml": "runtimeManifest:\n  packages:\n    p:\n      sequences:\n"
                    "        a: {actions: a}\n"},
     "extensions.x.runtimeManifest.packages.p.sequences.a",
     "in src/x.yaml: package 'p' already has an action named 'a', at "
     "application.runtimeManifest.packages.p.actions.a in app.config.yaml"),
    ({"app.config.yaml": APP + f"          a: {ACTION}\n"
                               "extensions:\n  x:\n    $include: src/x.yaml\n",
      "src/x.yaml": "runtimeManifest:\n  packages:\n    p:\n      actions:\n"
                    "        a: {function: ../actions/hello.py, runtime: 'python:3.11'}\n"},
     "extensions.x.runtimeManifest.packages.p.actions.a",
     "already has an action named 'a', at application.runtimeManifest.packages.p.actions.a"),
    ({"app.config.yaml": APP.replace("        actions:\n", "        inputs: {R: eu}\n"
                                                         "        actions:\n")
      + f"          a: {ACTION}\n"
        "extensions:\n  x:\n    runtimeManifest:\n      packages:\n        p:\n"
        f"          inputs: {{R: us}}\n          actions: {{b: {ACTION}}}\n"},
     "extensions.x.runtimeManifest.packages.p.inputs.R",
     "differs from the value the same package has at "
     "application.runtimeManifest.packages.p.inputs.R"),
    ({"app.config.yaml": "extensions:\n  x:\n    $include: src/x.yaml\n",
      "src/x.yaml": "runtimeManifest:\n  packages:\n    p:\n      actions:\n"
                    "        a: {function: nowhere.py, runtime: 'python:3.11'}\n"},
     "extensions.x.runtimeManifest.packages.p.actions.a.function",
     "in src/x.yaml: nowhere.py does not exist"),
]


@pytest.mark.parametrize(("files", "path", "words"), FAULTS)
def test_each_fault_names_its_path(tmp_path: pathlib.Path, files: dict[str, str], path: str,
                                   words: str) -> None:
    manifest = write(tmp_path, files)

    with pytest.raises(ManifestError) as caught:
        load_manifest(manifest, {})

    prefix = f"{manifest}: {path}: " if path else f"{manifest}: "
    assert str(caught.value).startswith(prefix)
    assert words in str(caught.value)


def test_an_included_file_over_the_size_cap_is_refused(tmp_path: pathlib.Path) -> None:
    manifest = write(tmp_path, {"app.config.yaml": "application:\n  $include: huge.yaml\n",
                                "huge.yaml": "# padding\n" * (MAX_TEXT_FILE_BYTES // 10 + 1)})
    with pytest.raises(ManifestError, match=r"application\.\$include: .*huge\.yaml: larger "
                                            r"than 1048576 bytes; not read \(app\.config\.yaml "
                                            r"-> huge\.yaml\)"):
        load_manifest(manifest, {})


def test_includes_cannot_multiply_a_small_file_into_a_huge_document(
        tmp_path: pathlib.Path) -> None:
    """Each file is small and has no aliases, but each includes the next one 20 times."""
    files = {"app.config.yaml": "application:\n  $include: l0.yaml\n"}
    for level in range(6):
        files[f"l{level}.yaml"] = "".join(f"k{n}: {{$include: l{level + 1}.yaml}}\n"
                                          for n in range(20))
    files["l6.yaml"] = "leaf: 1\n"
    manifest = write(tmp_path, files)

    with pytest.raises(ManifestError, match=f"expand to more than {MAX_EXPANDED_NODES} values"):
        load_manifest(manifest, {})


def test_a_copied_project_loads_like_the_fixture(tmp_path: pathlib.Path) -> None:
    copy_fixture(PROJECT, tmp_path)
    manifest = load_manifest(tmp_path / "app.config.yaml", PROJECT_ENV)
    assert action_named(manifest, "process").code.path == (
        tmp_path / "src" / "shared" / "code" / "process.py")


def test_without_manifest_yaml_the_tools_take_app_config_yaml(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    copy_fixture(FIXTURES / "app_builder_tutorial", tmp_path / "app")
    monkeypatch.chdir(tmp_path / "app")
    for name in ("OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET",
                 "OAUTHS2S_CECREDENTIALS_METASCOPES"):
        monkeypatch.setenv(name, "x")

    assert default_manifest() == pathlib.Path("app.config.yaml")
    assert deploy_cli.main(["render"]) == 0
    assert "dx-excshell-1" in capsys.readouterr().out
    (tmp_path / "app" / "manifest.yaml").write_text("packages: {}\n")
    assert default_manifest() == pathlib.Path("manifest.yaml")  # wskdeploy's name comes first
