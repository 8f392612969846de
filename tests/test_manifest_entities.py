"""Sequences, triggers, rules, dependencies, init inputs and included files: what they resolve to,
each fault found before anything is sent, and how ``deploy.py render`` prints them."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
import yaml

from tests.deploy_support import FIXTURES, action_named, copy_fixture, make_project
from tools.manifest import (
    ActionSequence,
    Binding,
    ManifestError,
    Rule,
    Trigger,
    load_manifest,
    render,
)

ENTITIES = FIXTURES / "wskdeploy_entities"
ENTITIES_ENV = {"REGION": "eu", "DB_PASSWORD": "db-password-1234", "ALARMS_TOKEN": "alarm-tok-99"}
APP_BUILDER = FIXTURES / "app_builder_project"
APP_BUILDER_ENV = {"REGION": "eu", "WORKER_API_KEY": "worker-key-5678"}
HELLO = "{function: actions/hello, runtime: 'python:3.11'}"


def load(root: pathlib.Path, manifest: str, env: dict[str, str] | None = None):
    """A manifest over the hello project: package ``demo`` with the action ``hello``."""
    return load_manifest(make_project(root, textwrap.dedent(manifest)), env or {})


def demo(lines: str = "", hello_lines: str = "", more: str = "") -> str:
    """Package demo with action hello; ``lines`` added to the package, ``hello_lines`` to the
    action, ``more`` after the package (another package …)."""
    return ("packages:\n  demo:\n    actions:\n      hello:\n"
            "        function: actions/hello\n        runtime: python:3.11\n"
            + hello_lines + lines + more)


def test_every_entity_of_the_wskdeploy_project() -> None:
    manifest = load_manifest(ENTITIES / "manifest.yaml", ENTITIES_ENV)

    assert manifest.project == "shop"
    assert [a.qualified_name for a in manifest.actions()] == [
        "orders/validate", "orders/store", "notify/send"]
    assert manifest.sequences() == [ActionSequence(
        package="orders", name="checkout",
        components=("orders/validate", "orders/store", "notify/send"), web="yes",
        annotations={"description": "validate, store and tell the customer"})]
    assert manifest.triggers == (
        Trigger(name="nightly", feed="/whisk.system/alarms/alarm",
                feed_inputs={"cron": "0 2 * * *", "trigger_payload": {"report": "daily"}}),
        Trigger(name="manual", inputs={"source": "manual"},
                annotations={"description": "fired by hand"}))
    assert manifest.rules == (
        Rule("nightly-checkout", "nightly", "orders/checkout"),
        Rule("manual-send", "manual", "notify/send"),
        Rule("echo-manual", "manual", "utils/echo"),  # through the binding utils
        Rule("date-nightly", "nightly", "/whisk.system/utils/date"))
    assert manifest.bindings == (
        Binding("alarms", "/whisk.system/alarms", inputs={"API_TOKEN": "alarm-tok-99"}),
        Binding("utils", "/whisk.system/utils"))


def test_init_inputs_keep_their_value_and_are_named_in_init_inputs() -> None:
    manifest = load_manifest(ENTITIES / "manifest.yaml", ENTITIES_ENV)
    validate = action_named(manifest, "validate")

    assert validate.inputs == {"DB_PASSWORD": "db-password-1234", "LIMIT": 5,
                               "SETTINGS": {"retries": 2}, "VISIBLE": "shown"}
    assert validate.init_inputs == {"DB_PASSWORD", "LIMIT", "SETTINGS"}  # init: false is not
    assert manifest.parameters(validate)["LIMIT"] == 5  # the action's, over the package's 1
    assert action_named(manifest, "store").init_inputs == frozenset()


def test_included_files_are_absolute_paths_with_their_place_in_the_zip_sorted() -> None:
    validate = action_named(load_manifest(ENTITIES / "manifest.yaml", ENTITIES_ENV), "validate")

    assert validate.includes == (
        (ENTITIES / "data" / "prices.json", "data/prices.json"),
        (ENTITIES / "data" / "regions.json", "data/regions.json"),
        (ENTITIES / "data" / "schema" / "order.schema.json", "order.schema.json"))


def test_sequence_components_and_rule_actions_resolve_in_the_declaring_package(
        tmp_path: pathlib.Path) -> None:
    manifest = load(tmp_path, demo(
        "    sequences:\n"
        "      twice: {actions: [hello, 'demo/hello', ' /whisk.system/utils/echo ']}\n"
        "      outer: {actions: 'twice,other/bye', web-export: raw}\n"
        "    triggers: {t: {}}\n"
        "    rules: {r1: {trigger: t, action: outer}, r2: {trigger: t, action: other/bye}}\n",
        more=f"  other:\n    actions: {{bye: {HELLO}}}\n"))

    sequences = {s.name: s for s in manifest.sequences()}
    assert sequences["twice"].components == ("demo/hello", "demo/hello",
                                             "/whisk.system/utils/echo")
    assert sequences["outer"].components == ("demo/twice", "other/bye")
    assert sequences["outer"].web_annotations()["raw-http"] is True
    assert [r.action for r in manifest.rules] == ["demo/outer", "other/bye"]
    assert manifest.triggers == (Trigger("t"),)


def test_a_package_of_sequences_only_and_a_glob_over_folders(tmp_path: pathlib.Path) -> None:
    (tmp_path / "assets" / "deep").mkdir(parents=True)
    (tmp_path / "assets" / "deep" / "x.csv").write_text("1\n")
    (tmp_path / "assets" / "y.csv").write_text("2\n")
    manifest = load(tmp_path, demo(
        hello_lines="        include: [['assets/**/*.csv', 'tables']]\n",
        more="  flows:\n    sequences: {s: {actions: demo/hello}}\n"))

    assert manifest.package("flows").actions == ()
    assert action_named(manifest, "hello").includes == (
        (tmp_path / "assets" / "deep" / "x.csv", "tables/x.csv"),
        (tmp_path / "assets" / "y.csv", "tables/y.csv"))


TOP = "packages.demo"
HELLO_AT = f"{TOP}.actions.hello"
FAULTS = [
    # (manifest, the path named, words of the message)
    (demo("    triggers: {t: {}}\n    rules: {r: {trigger: t}}\n"),
     f"{TOP}.rules.r.action", "is required"),
    (demo("    triggers: {t: {}}\n    rules: {r: {trigger: t, action: a/b/c}}\n"),
     f"{TOP}.rules.r.action", "'a/b/c' is not an action name"),
    (demo("    triggers: {t: {}}\n    rules: {r: {trigger: t, action: hello, status: on}}\n"),
     f"{TOP}.rules.r.status", "unknown key"),
    (demo("    sequences: {s: {actions: ''}}\n"), f"{TOP}.sequences.s.actions",
     "'' is not an action name"),
    (demo("    sequences: {s: {web: yes}}\n"), f"{TOP}.sequences.s.actions", "is required"),
    (demo("    sequences: {s: {actions: '/ns'}}\n"), f"{TOP}.sequences.s.actions",
     "'/ns' is not a fully qualified action name"),
    (demo("    sequences: {hello: {actions: hello}}\n"), f"{TOP}.sequences.hello",
     f"package 'demo' already has an action named 'hello', at {HELLO_AT}"),
    (demo("    sequences:\n      a: {actions: 'hello, b'}\n      b: {actions: c}\n"
          "      c: {actions: a}\n"),
     f"{TOP}.sequences.a.actions", "cannot contain itself: demo/a -> demo/b -> demo/c -> demo/a"),
    (demo("    sequences: {s: {actions: hello, annotations: {require-whisk-auth: 0}}}\n"),
     f"{TOP}.sequences.s.annotations.require-whisk-auth", "is not a valid value"),
    (demo(hello_lines="        include: [['data/*.json', 'data/']]\n"),
     f"{HELLO_AT}.include[0][0]",
     "'data/*.json' matches no file or folder (relative to the project"),
    (demo(hello_lines="        include: ['data/*.json']\n"),
     f"{HELLO_AT}.include[0]", "must be [glob] or [glob, folder in the zip]"),
    (demo(hello_lines="        include: [['actions/hello/*.py', '../up']]\n"),
     f"{HELLO_AT}.include[0][1]", "'../up' is not a folder inside the zip"),
    (demo(hello_lines="        include: [['actions/hello/*.py', \"x\\0\"]]\n"),
     f"{HELLO_AT}.include[0][1]", "is not a folder inside the zip"),
    (demo(hello_lines="        include: {data: x}\n"),
     f"{HELLO_AT}.include", "must be a list of [glob, folder in the zip] pairs"),
    (demo(hello_lines="        include: [['actions/hello/*.py'], ['lib/__init__.py']]\n"),
     f"{HELLO_AT}.include[1]",
     "__init__.py in the zip would be both actions/hello/__init__.py and lib/__init__.py"),
    (demo("    triggers: {t: {feed: a/b/c/d}}\n"), f"{TOP}.triggers.t.feed",
     "'a/b/c/d' is not a feed action"),
    (demo("    triggers: {t: {feed: /whisk.system}}\n"), f"{TOP}.triggers.t.feed",
     "is not a feed action"),
    (demo("    triggers: {t: {source: x, feed: y}}\n"), f"{TOP}.triggers.t.source",
     "repeats 'feed'"),
    (demo("    inputs: {X: {value: 1, init: true}}\n"), f"{TOP}.inputs.X.init",
     "only an action's inputs can be init inputs"),
    (demo("    triggers: {t: {inputs: {X: {value: 1, init: true}}}}\n"),
     f"{TOP}.triggers.t.inputs.X.init", "only an action's inputs"),
    (demo("    dependencies: {d: {location: /a/b, inputs: {X: {value: 1, init: false}}}}\n"),
     f"{TOP}.dependencies.d.inputs.X.init", "only an action's inputs"),
    (demo(hello_lines="        inputs: {X: {value: 1, init: 'true'}}\n"),
     f"{HELLO_AT}.inputs.X.init", "must be true or false, not 'true'"),
    (demo(hello_lines="        inputs: {MY-VAR: {value: 1, init: true}}\n"),
     f"{HELLO_AT}.inputs.MY-VAR", "its name must be letters, digits and _"),
    (demo() + "apis: {}\n", "apis", "routes are declared under a package"),
    (f"project:\n  name: p\n  apis: {{}}\n  packages: {{demo: {{actions: {{hello: {HELLO}}}}}}}\n",
     "project.apis", "routes are declared under a package"),
    (f"runtimeManifest:\n  apis: {{}}\n  packages: {{demo: {{actions: {{hello: {HELLO}}}}}}}\n",
     "runtimeManifest.apis", "routes are declared under a package"),
    ("project:\n  name: ''\n  packages: {}\n", "project.name", "is required"),
    (demo("    dependencies: {d: {location: 'github.com/apache/openwhisk-test/packages/x'}}\n"),
     f"{TOP}.dependencies.d.location", "a GitHub dependency needs the network"),
    (demo("    dependencies: {d: {location: /whisk.system/alarms/alarm}}\n"),
     f"{TOP}.dependencies.d.location", "only bindings to packages are supported"),
    (demo("    dependencies: {d: {inputs: {}}}\n"), f"{TOP}.dependencies.d.location",
     "is required"),
    (demo("    dependencies: {d: {location: /a/b, colour: 1}}\n"),
     f"{TOP}.dependencies.d.colour", "unknown key"),
    (demo("    dependencies: {demo: {location: /whisk.system/utils}}\n"),
     f"{TOP}.dependencies.demo", "cannot share the name of the package at packages.demo"),
    (demo("    triggers: {t: {}}\n", more=f"  two:\n    actions: {{a: {HELLO}}}\n"
                                           "    triggers: {t: {}}\n"),
     "packages.two.triggers.t", "trigger 't' is also defined at packages.demo.triggers.t"),
    (demo("    triggers: {t: {}}\n    rules: {r: {trigger: t, action: hello}}\n",
          more=f"  two:\n    actions: {{a: {HELLO}}}\n"
               "    rules: {r: {trigger: t, action: a}}\n"),
     "packages.two.rules.r", "rule 'r' is also defined at packages.demo.rules.r"),
    (demo("    dependencies: {b: {location: /x/y}}\n",
          more=f"  two:\n    actions: {{a: {HELLO}}}\n"
               "    dependencies: {b: {location: /x/z}}\n"),
     "packages.two.dependencies.b", "binding 'b' is also defined at packages.demo.dependencies.b"),
    (demo("    triggers: {'bad/name': {}}\n"), f"{TOP}.triggers.bad/name", "not a valid OpenWhisk"),
    ('packages:\n  demo:\n    actions:\n      hello: {function: "a\\0", runtime: python:3.11}\n',
     f"{HELLO_AT}.function", "'a\\x00' is not a usable path"),
]


@pytest.mark.parametrize(("manifest", "path", "words"), FAULTS)
def test_each_fault_names_its_path(tmp_path: pathlib.Path, manifest: str, path: str,
                                   words: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, manifest)

    assert str(caught.value).startswith(f"{tmp_path / 'manifest.yaml'}: {path}: ")
    assert words in str(caught.value)


def test_faults_are_found_before_unset_variables_are_reported(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match="'a/b/c' is not an action name"):
        load(tmp_path, demo("    inputs: {X: $UNSET}\n"
                            "    triggers: {t: {}}\n    rules: {r: {trigger: t, action: a/b/c}}\n"))


@pytest.mark.parametrize(("rule", "words"), [
    ("{trigger: nope, action: hello}", "unknown trigger 'nope' (triggers of the project: t)"),
    ("{trigger: t, action: gone}", "demo/gone is not an action of the manifest"),
    ("{trigger: t, action: elsewhere/hello}", "elsewhere/hello is not an action of the manifest"),
])
def test_a_rule_naming_what_the_manifest_lacks_warns_as_wskdeploy_sends_it(
        tmp_path: pathlib.Path, rule: str, words: str) -> None:
    manifest = load(tmp_path, demo(f"    triggers: {{t: {{}}}}\n    rules: {{r: {rule}}}\n"))
    assert any(words in warning and "must exist on the server" in warning
               for warning in manifest.warnings), manifest.warnings


def test_app_builder_refuses_a_rule_naming_what_the_manifest_lacks(tmp_path: pathlib.Path
                                                                   ) -> None:
    """aio: 'Action/Trigger provided in the rule not found in manifest file'."""
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "hello.py").write_text("def main(params):\n    return {}\n")
    (tmp_path / "app.config.yaml").write_text(
        "runtimeManifest:\n  packages:\n    demo:\n      actions:\n"
        "        hello: {function: actions/hello.py, runtime: 'python:3.11'}\n"
        "      triggers: {t: {}}\n      rules: {r: {trigger: nope, action: hello}}\n")
    with pytest.raises(ManifestError, match="unknown trigger 'nope'"):
        load_manifest(tmp_path / "app.config.yaml", {})


# --- render ------------------------------------------------------------------------------------

def test_render_prints_every_entity_with_secrets_and_init_inputs_masked() -> None:
    manifest = load_manifest(ENTITIES / "manifest.yaml", ENTITIES_ENV)

    text = render(manifest)
    shown = yaml.safe_load(text)

    assert "db-password-1234" not in text
    assert "alarm-tok-99" not in text
    orders = shown["project"]["packages"]["orders"]
    assert shown["project"]["name"] == "shop"
    assert orders["actions"]["validate"]["inputs"] == {
        "DB_PASSWORD": {"value": "<hidden>", "init": True},
        "LIMIT": {"value": 5, "init": True},
        "SETTINGS": {"value": {"retries": 2}, "init": True},
        "VISIBLE": "shown"}
    assert orders["actions"]["validate"]["include"] == [
        ["data/prices.json", "data/"], ["data/regions.json", "data/"],
        ["data/schema/order.schema.json", "./"]]
    assert orders["sequences"] == {"checkout": {
        "actions": "orders/validate, orders/store, notify/send", "web": "yes",
        "annotations": {"description": "validate, store and tell the customer"}}}
    assert orders["triggers"] == {
        "nightly": {"feed": "/whisk.system/alarms/alarm",
                    "inputs": {"cron": "0 2 * * *", "trigger_payload": {"report": "daily"}}},
        "manual": {"inputs": {"source": "manual"},
                   "annotations": {"description": "fired by hand"}}}
    assert orders["rules"]["echo-manual"] == {"trigger": "manual", "action": "utils/echo"}
    assert orders["dependencies"] == {
        "alarms": {"location": "/whisk.system/alarms", "inputs": {"API_TOKEN": "<hidden>"}},
        "utils": {"location": "/whisk.system/utils"}}
    revealed = yaml.safe_load(render(manifest, show_secrets=True))["project"]["packages"]
    assert revealed["orders"]["actions"]["validate"]["inputs"]["DB_PASSWORD"] == {
        "value": "db-password-1234", "init": True}


@pytest.mark.parametrize(("fixture", "manifest", "env"), [
    (ENTITIES, "manifest.yaml", ENTITIES_ENV),
    (APP_BUILDER, "app.config.yaml", APP_BUILDER_ENV),
])
def test_what_render_prints_loads_back_to_the_same_project(
        tmp_path: pathlib.Path, fixture: pathlib.Path, manifest: str,
        env: dict[str, str]) -> None:
    copy_fixture(fixture, tmp_path)
    original = load_manifest(tmp_path / manifest, env)
    (tmp_path / "rendered.yaml").write_text(render(original, show_secrets=True))

    again = load_manifest(tmp_path / "rendered.yaml", {})

    for part in ("packages", "triggers", "rules", "bindings", "project"):
        assert getattr(again, part) == getattr(original, part), part


def test_render_shows_api_routes_and_they_load_back(tmp_path: pathlib.Path) -> None:
    copy_fixture(FIXTURES / "hello_project", tmp_path)
    copy_fixture(FIXTURES / "api_project", tmp_path)
    original = load_manifest(tmp_path / "manifest.yaml", {"NAME": "n"})
    text = render(original, show_secrets=True)
    assert yaml.safe_load(text)["project"]["packages"]["club"]["apis"]["book-club"]["/club"][
        "/books/{isbn}"] == {"book": {"method": "GET", "response": "http"}}
    (tmp_path / "rendered.yaml").write_text(text)
    assert load_manifest(tmp_path / "rendered.yaml", {}).routes() == original.routes()


def test_include_takes_a_folder_whole_and_wskdeploy_layouts_skip_odd_entries(
        tmp_path: pathlib.Path) -> None:
    (tmp_path / "data" / "nested").mkdir(parents=True)
    (tmp_path / "data" / "a.txt").write_text("a")
    (tmp_path / "data" / "nested" / "b.txt").write_text("b")
    manifest = load(tmp_path, demo(hello_lines="        include:\n          - [data, assets/]\n"
                                              "          - [actions/hello/*.py, a, b]\n"
                                              "          - []\n"))
    assert [inside for _, inside in action_named(manifest, "hello").includes] == [
        "assets/data/a.txt", "assets/data/nested/b.txt"]
    assert sum("skipped" in warning for warning in manifest.warnings) == 2
