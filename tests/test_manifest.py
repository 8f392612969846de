"""The manifest resolver: layouts, $VAR substitution, typed inputs, and every fault it names."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
import yaml

from tests.deploy_support import HELLO_ENV, REPO, action_named, make_project
from tools.deploy.client import server_ranges
from tools.deploy.entity_types import ConfigError
from tools.deploy.target import check_limits
from tools.manifest import (
    Action,
    Limits,
    ManifestError,
    UnsetVariablesError,
    load_env,
    load_manifest,
    render,
    substitute,
)
from tools.manifest.model import LIMIT_RANGES
from tools.runtimes.python.code import PythonPackage, python_version

ACTION = "packages.demo.actions.hello"


def load(root: pathlib.Path, manifest: str, env: dict[str, str] | None = None):
    return load_manifest(make_project(root, textwrap.dedent(manifest)), env or {})


def hello(extra: str = "", package_extra: str = "", action_lines: str | None = None) -> str:
    """One action; ``extra`` adds lines to the action, ``package_extra`` to its package."""
    lines = action_lines if action_lines is not None else (
        "        function: actions/hello\n        runtime: python:3.11\n")
    return ("packages:\n  demo:\n" + package_extra + "    actions:\n      hello:\n"
            + lines + extra)


def test_the_repository_manifest_resolves_to_the_tutorial_action() -> None:
    env = {"OAUTHS2S_CLIENT_ID": "cid", "OAUTHS2S_CLIENT_SECRET": "secret-1234",
           "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID", "IMS_ORG_ID": "ORG@AdobeOrg"}

    action = action_named(load_manifest(REPO / "manifest.yaml", env), "dx-excshell-1/generic")

    assert (action.package, action.name, action.kind, action.main, action.web) == (
        "dx-excshell-1", "generic", "python:3.11", "main", "yes")
    assert action.code.path == REPO / "actions" / "generic"
    assert action.code.module == "actions.generic"
    assert action.inputs == {"LOG_LEVEL": "info", "OAUTHS2S_CLIENT_ID": "cid",
                             "OAUTHS2S_CLIENT_SECRET": "secret-1234",
                             "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID",
                             "IMS_ORG_ID": "ORG@AdobeOrg"}
    assert action.annotations == {"require-adobe-auth": False, "final": True}
    assert action.all_annotations() == {"web-export": True, "raw-http": False, "final": True,
                                        "require-adobe-auth": False}


@pytest.mark.parametrize("layout", [
    "packages:\n  {body}",
    "project:\n  name: demo-project\n  packages:\n    {body}",
    "operations: {{view: [{{type: web, impl: index.html}}]}}\nactions: actions\n"
    "runtimeManifest:\n  packages:\n    {body}",
    "application:\n  actions: actions\n  runtimeManifest:\n    packages:\n      {body}",
])
def test_wskdeploy_and_app_builder_layouts_give_the_same_actions(
        tmp_path: pathlib.Path, layout: str) -> None:
    body = "demo: {actions: {hello: {function: actions/hello, runtime: 'python:3.11', web: yes}}}"

    manifest = load(tmp_path, layout.format(body=body))

    assert [a.qualified_name for a in manifest.actions()] == ["demo/hello"]
    assert manifest.actions()[0].web == "yes"


@pytest.mark.parametrize(("written", "expected"), [
    ("$NAME", "world"),
    ("${NAME}", "world"),
    ("pre-${NAME}-post $NAME.", "pre-world-post world."),
    ("$$NAME costs $$5", "$NAME costs $5"),
    ("$${NAME}", "${NAME}"),
    ("100$ and $ alone", "100$ and $ alone"),
    ("[$EMPTY]", "[]"),
])
def test_substitution_forms(written: str, expected: str) -> None:
    assert substitute(written, {"NAME": "world", "EMPTY": ""}, "x") == expected


@pytest.mark.parametrize(("written", "message"), [
    ("${NOT-A-NAME}", "'${NOT-A-NAME}' is not a variable name"),
    ("${UNCLOSED", "'${' is not closed"),
])
def test_malformed_references_are_errors(written: str, message: str) -> None:
    with pytest.raises(ManifestError, match=r"^where: ") as caught:
        substitute(written, {}, "where")
    assert message in str(caught.value)


def test_substitution_reaches_nested_inputs_and_annotations(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello(
        "        inputs:\n          nested: {list: [$NAME, 1], map: {k: '${NAME}!'}}\n"
        "        annotations:\n          description: for $NAME\n"),
        {"NAME": "world"})

    action = action_named(manifest, "hello")
    assert action.inputs == {"nested": {"list": ["world", 1], "map": {"k": "world!"}}}
    assert action.annotations == {"description": "for world"}


def test_every_unset_variable_is_listed_with_every_input_using_it(tmp_path: pathlib.Path) -> None:
    manifest = hello(
        "        inputs:\n          A: $ONE\n          B: x-${ONE}-$TWO\n          C: $SET\n"
        "        annotations:\n          note: $THREE\n",
        package_extra="    inputs:\n      P: $TWO\n")

    with pytest.raises(UnsetVariablesError) as caught:
        load(tmp_path, manifest, {"SET": ""})

    assert caught.value.variables == {
        "ONE": [f"{ACTION}.inputs.A", f"{ACTION}.inputs.B"],
        "TWO": [f"{ACTION}.inputs.B", "packages.demo.inputs.P"],
        "THREE": [f"{ACTION}.annotations.note"],
    }
    message = str(caught.value)
    assert f"ONE: used by {ACTION}.inputs.A, {ACTION}.inputs.B" in message
    assert "SET:" not in message


def test_a_set_but_empty_variable_is_kept(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello("        inputs:\n          A: $EMPTY\n"), {"EMPTY": ""})
    assert action_named(manifest, "hello").inputs == {"A": ""}


def test_env_file_values_with_the_shell_winning(tmp_path: pathlib.Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("FROM_FILE=file\nBOTH=file\nLITERAL=a$b${FROM_FILE}\nEMPTY=\n")
    monkeypatch.setenv("BOTH", "shell")

    env = load_env(env_file)

    assert (env["FROM_FILE"], env["BOTH"], env["EMPTY"]) == ("file", "shell", "")
    assert env["LITERAL"] == "a$b${FROM_FILE}"  # taken literally, like Node's dotenv


def test_a_missing_env_file_gives_the_process_environment(tmp_path: pathlib.Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLY_IN_SHELL", "yes")
    env = load_env(tmp_path / "absent.env")
    assert env["ONLY_IN_SHELL"] == "yes"
    assert load_env(None)["ONLY_IN_SHELL"] == "yes"


@pytest.mark.parametrize(("spec", "env", "expected"), [
    ("{type: integer, value: $N}", {"N": "42"}, 42),
    ("{type: float, value: $N}", {"N": "2.5"}, 2.5),
    ("{type: boolean, value: $B}", {"B": "True"}, True),
    ("{type: json, value: $J}", {"J": '{"a": [1, 2]}'}, {"a": [1, 2]}),
    ("{type: string, value: 7}", {}, "7"),
    ("{type: integer, default: 5, description: used when value is absent}", {}, 5),
    ("{value: plain $B}", {"B": "x"}, "plain x"),
])
def test_typed_inputs_are_converted_after_substitution(
        tmp_path: pathlib.Path, spec: str, env: dict[str, str], expected: object) -> None:
    manifest = load(tmp_path, hello(f"        inputs:\n          X: {spec}\n"), env)
    assert action_named(manifest, "hello").inputs == {"X": expected}


def test_a_plain_object_input_is_not_taken_for_a_typed_one(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello("        inputs:\n          X: {value: 1, other: 2}\n"))
    assert action_named(manifest, "hello").inputs == {"X": {"value": 1, "other": 2}}


def test_a_bad_secret_typed_value_is_not_echoed(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, hello("        inputs:\n          MY_SECRET: {type: integer, value: $S}\n"),
             {"S": "hunter2-not-a-number"})
    assert f"{ACTION}.inputs.MY_SECRET.value" in str(caught.value)
    assert "hunter2" not in str(caught.value)


LIMIT_FAULTS = [
    # Checked by the deploy's preflight against the server's ranges (stock ones here).
    (hello("        limits: {timeout: 99}\n"), f"{ACTION}.limits.timeout", "from 100 to 300000"),
    (hello("        limits: {timeout: 300001}\n"), f"{ACTION}.limits.timeout", "not 300001"),
    (hello("        limits: {memory: 127}\n"), f"{ACTION}.limits.memory", "from 128 to 512"),
    (hello("        limits: {memorySize: 1024}\n"), f"{ACTION}.limits.memorySize", "to 512"),
    (hello("        limits: {logSize: 11}\n"), f"{ACTION}.limits.logSize", "from 0 to 10"),
    (hello("        limits: {concurrency: 0}\n"), f"{ACTION}.limits.concurrency", "from 1"),
]


@pytest.mark.parametrize(("text", "where", "words"), LIMIT_FAULTS)
def test_a_limit_outside_the_range_is_refused_by_the_preflight_naming_it(
        tmp_path: pathlib.Path, text: str, where: str, words: str) -> None:
    manifest = load(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        check_limits(manifest)
    assert f": {where}: " in str(caught.value)
    assert words in str(caught.value)


def test_a_server_that_reports_wider_limits_allows_them(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello("        limits: {timeout: 600000, memorySize: 2048}\n"))
    ranges = server_ranges({"min_action_duration": 100, "max_action_duration": 600_000,
                            "min_action_memory": 128 * 2**20, "max_action_memory": 2**31})
    assert ranges == {"timeout": (100, 600_000, "ms"), "memory": (128, 2048, "MB")}
    check_limits(manifest, {**LIMIT_RANGES, **ranges})
    with pytest.raises(ConfigError, match="to 512"):
        check_limits(manifest)


FAULTS = [
    # (lines added to the action, or a whole manifest, the path named, words of the message)
    (hello("        colour: blue\n"), f"{ACTION}.colour", "unknown key"),
    (hello(package_extra="    colours: {}\n"), "packages.demo.colours", "unknown key"),
    (hello("        limits: {cpu: 1}\n"), f"{ACTION}.limits.cpu", "unknown key"),
    (hello() + "extra: 1\n", "extra", "unknown key (known: packages, project)"),
    (hello(action_lines="        runtime: python:3.11\n"), f"{ACTION}.function", "is required"),
    (hello(action_lines="        function: actions/nothere\n        runtime: python:3.11\n"),
     f"{ACTION}.function", "does not exist"),
    (hello(action_lines="        function: actions/hello/data.txt\n        runtime: python:3.11\n"),
     f"{ACTION}.function", "is not a .py file"),
    (hello(action_lines="        function: actions/plain\n        runtime: python:3.11\n"),
     f"{ACTION}.function", "without __init__.py"),
    (hello(action_lines="        function: actions/my-action\n        runtime: python:3.11\n"),
     f"{ACTION}.function", "'my-action' is not a valid Python module name"),
    (hello(action_lines="        function: actions/hello\n        runtime: 'nodejs 18'\n"),
     f"{ACTION}.runtime", "is not a kind"),
    (hello(action_lines="        function: actions/hello\n        kind: python:3.9\n"),
     f"{ACTION}.kind", "unsupported kind 'python:3.9'"),
    (hello(action_lines="        function: actions/hello\n"), f"{ACTION}.runtime", "is required"),
    (hello("        kind: python:3.11\n"), f"{ACTION}.kind", "give only one"),
    (hello("        web: maybe\n"), f"{ACTION}.web", "'maybe' is not one of"),
    (hello("        web-export: 2\n"), f"{ACTION}.web-export", "is not one of"),
    (hello("        main: not-a-name\n"), f"{ACTION}.main", "not a Python function name"),
    (hello("        limits: {timeout: '1000'}\n"), f"{ACTION}.limits.timeout", "integer"),
    (hello("        limits: {logs: true}\n"), f"{ACTION}.limits.logs", "integer"),
    (hello("        limits: {memory: 256, memorySize: 256}\n"), f"{ACTION}.limits.memorySize",
     "repeats 'memory'"),
    (hello("        annotations: {require-whisk-auth: -1}\n"),
     f"{ACTION}.annotations.require-whisk-auth", "a number out of range is not a valid"),
    (hello("        annotations: {require-whisk-auth: 9007199254740991}\n"),
     f"{ACTION}.annotations.require-whisk-auth", "from 1 to 9007199254740990"),
    (hello("        annotations: {require-whisk-auth: ''}\n"),
     f"{ACTION}.annotations.require-whisk-auth", "'' is not a valid value"),
    (hello("        annotations: {require-whisk-auth: null}\n"),
     f"{ACTION}.annotations.require-whisk-auth", "null is not a valid value"),
    (hello("        web: raw123\n"), f"{ACTION}.web", "'raw123' is not one of"),
    (hello("        inputs: {X: {type: integer, value: abc}}\n"), f"{ACTION}.inputs.X.value",
     "'abc' is not a valid integer"),
    (hello("        inputs: {X: {type: decimal, value: 1}}\n"), f"{ACTION}.inputs.X.type",
     "unknown type 'decimal'"),
    (hello("        inputs: {X: {required: true, type: string}}\n"), f"{ACTION}.inputs.X",
     "is required but has no value"),
    (hello("        inputs: [a, b]\n"), f"{ACTION}.inputs", "must be a mapping, not a list"),
    ("packages:\n  demo:\n    actions:\n      hello: actions/hello\n", ACTION,
     "must be a mapping, not a string"),
    ("packages:\n  'bad/name':\n    actions: {}\n", "packages.bad/name", "not a valid OpenWhisk"),
    ("packages: {}\n", "packages", "defines no package"),
    ("project:\n  name: x\n", "project", "has no 'packages'"),
    ("project:\n  colour: x\n  packages: {}\n", "project.colour", "unknown key"),
]


@pytest.mark.parametrize(("manifest", "path", "words"), FAULTS)
def test_each_fault_names_its_path(tmp_path: pathlib.Path, manifest: str, path: str,
                                   words: str) -> None:
    (tmp_path / "actions" / "plain").mkdir(parents=True)
    (tmp_path / "actions" / "my-action").mkdir()
    (tmp_path / "actions" / "my-action" / "__init__.py").write_text("")
    (tmp_path / "actions" / "hello").mkdir()
    (tmp_path / "actions" / "hello" / "data.txt").write_text("")

    with pytest.raises(ManifestError) as caught:
        load(tmp_path, manifest)

    assert str(caught.value).startswith(f"{tmp_path / 'manifest.yaml'}: {path}: ")
    assert words in str(caught.value)


@pytest.mark.parametrize(("text", "words"), [
    ("- just\n- a list\n", "must be a mapping with one of packages, project, runtimeManifest"),
    ("packages: {}\nruntimeManifest: {}\n", "not both; found packages, runtimeManifest"),
    ("package: {}\n", r"found none of them \(its top-level keys: package\)"),
    ("packages:\n  demo: {}\n  demo: {}\n", "duplicate key 'demo'"),
    ("packages: [unclosed\n", "not valid YAML"),
])
def test_document_level_faults(tmp_path: pathlib.Path, text: str, words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        load(tmp_path, text)


def test_a_missing_manifest_is_named(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=r"absent\.yaml: no such file"):
        load_manifest(tmp_path / "absent.yaml", {})


@pytest.mark.parametrize(("web", "expected", "annotations"), [
    ("yes", "yes", {"web-export": True, "raw-http": False, "final": True}),
    ("'yes'", "yes", {"web-export": True, "raw-http": False, "final": True}),
    ("true", "yes", {"web-export": True, "raw-http": False, "final": True}),
    ("raw", "raw", {"web-export": True, "raw-http": True, "final": True}),
    ("no", "no", {}),
    ("'false'", "no", {}),
])
def test_web_values_and_their_annotations(tmp_path: pathlib.Path, web: str, expected: str,
                                          annotations: dict[str, bool]) -> None:
    action = action_named(load(tmp_path, hello(f"        web: {web}\n")), "hello")
    assert action.web == expected
    assert action.web_annotations() == annotations


def test_explicit_annotations_win_and_stale_web_ones_are_listed(tmp_path: pathlib.Path) -> None:
    web = action_named(load(tmp_path, hello("        web: yes\n        annotations:\n"
                                            "          final: false\n"
                                            "          require-whisk-auth: true\n")), "hello")
    assert web.all_annotations() == {"web-export": True, "raw-http": False, "final": False,
                                     "require-whisk-auth": True}
    assert web.stale_annotations() == []

    off = action_named(load(tmp_path, hello("        web: no\n        annotations:\n"
                                            "          final: true\n")), "hello")
    assert off.all_annotations() == {"final": True}
    assert off.stale_annotations() == ["web-export", "raw-http"]


def test_limits_keep_only_what_is_set_under_their_api_names(tmp_path: pathlib.Path) -> None:
    action = action_named(
        load(tmp_path, hello("        limits: {timeout: 100, memorySize: 512, logSize: 0}\n")),
        "hello")
    assert action.limits == Limits(timeout=100, memory=512, logs=0)
    assert action.limits.to_api() == {"timeout": 100, "memory": 512, "logs": 0}
    assert Limits().to_api() == {}


def test_a_single_file_action_and_its_module(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello(
        action_lines="        function: actions/hello/handler.py\n        runtime: python:3.12\n"
                     "        main: handler\n"))
    action = action_named(manifest, "hello")
    assert (action.code.module, action.main, python_version(action.kind)) == (
        "actions.hello.handler", "handler", "3.12")
    assert action.code.source_root == tmp_path


def test_actions_of_one_name_in_two_packages_stay_apart(tmp_path: pathlib.Path) -> None:
    body = "{actions: {hello: {function: actions/hello, runtime: 'python:3.11'}}}"
    manifest = load(tmp_path, f"packages:\n  one: {body}\n  two: {body}\n")

    assert [(a.package, a.qualified_name) for a in manifest.actions()] == [
        ("one", "one/hello"), ("two", "two/hello")]


def test_parameters_are_package_inputs_overlaid_by_the_actions(tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, hello("        inputs: {B: action, C: c}\n",
                                    package_extra="    inputs: {A: a, B: package}\n"))
    assert manifest.parameters(action_named(manifest, "hello")) == {
        "A": "a", "B": "action", "C": "c"}


def test_render_masks_secret_names_and_resolves_everything(tmp_path: pathlib.Path) -> None:
    manifest = load_manifest(make_project(tmp_path), HELLO_ENV)

    shown = yaml.safe_load(render(manifest))
    revealed = yaml.safe_load(render(manifest, show_secrets=True))

    hello_action = shown["packages"]["demo"]["actions"]["hello"]
    assert hello_action == {"function": "actions/hello", "runtime": "python:3.11",
                            "main": "main", "web": "yes",
                            "inputs": {"name": "world", "API_SECRET": "<hidden>"},
                            "limits": {"timeout": 30000, "memory": 256}}
    assert shown["packages"]["demo"]["inputs"] == {"REGION": "eu"}
    assert "s3cr3t" not in render(manifest)
    assert revealed["packages"]["demo"]["actions"]["hello"]["inputs"]["API_SECRET"] == (
        HELLO_ENV["API_SECRET"])


@pytest.mark.parametrize("name", ["client_secret", "DB_PASSWORD", "accessToken", "X-Api-Key",
                                  "AIO_RUNTIME_AUTH"])
def test_render_hides_each_secret_word_but_not_booleans(tmp_path: pathlib.Path,
                                                        name: str) -> None:
    manifest = load(tmp_path, hello(f"        inputs: {{'{name}': hidden-value}}\n"
                                    "        annotations: {require-whisk-auth: false}\n"))
    text = render(manifest)
    assert "hidden-value" not in text
    assert "require-whisk-auth: false" in text


def test_an_action_can_be_built_by_hand(tmp_path: pathlib.Path) -> None:
    make_project(tmp_path)
    action = Action(package="p", name="a", code=PythonPackage(tmp_path / "actions" / "hello"),
                    kind="python:3.11", main="main", web="raw")
    assert (action.qualified_name, action.code.module, action.inputs, action.limits) == (
        "p/a", "actions.hello", {}, Limits())
