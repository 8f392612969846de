"""Users' own wskdeploy and App Builder files load unchanged and deploy as the peers' tools
deploy them (issue 17). Each expectation is the peer's own, from apache/openwhisk-wskdeploy's
parser tests and adobe/aio-lib-runtime's; the fixtures are ours."""

from __future__ import annotations

import pathlib
import shutil

import pytest
import requests

from tests.deploy_support import FIXTURES, HELLO_ENV, alarm_project, deploy_cli, in_project
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn
from tools.deploy import adobe_auth
from tools.deploy.entity_types import ConfigError
from tools.manifest import load_manifest

PEER = FIXTURES / "peer_project"
NAMES = {"PKG": "greetings", "SRC": "src", "SEQ": "greet-seq", "TRIGGER": "every-minute",
         "RULE": "greet-rule"}
KEY = AUTH.partition(":")[2]


@pytest.fixture
def peer(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
         ow: OpenWhiskStandIn) -> pathlib.Path:
    root = tmp_path / "peer"
    shutil.copytree(PEER, root)
    return in_project(root, tmp_path, monkeypatch, {**NAMES, **ow.env()})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    return deploy_cli(capsys, *argv)


def loaded(root: pathlib.Path):
    return load_manifest(root / "manifest.yaml", NAMES)


def test_descriptive_keys_load_and_render(peer, capsys):
    manifest = loaded(peer)
    package = manifest.package("greetings")
    assert package.descriptive == {"version": 1.0, "license": "Apache-2.0"}
    status, out = run(capsys, "render")
    assert status == 0, out
    assert "description: hello from wskdeploy" in out
    assert "license: Apache-2.0" in out


def test_project_inputs_reach_every_package_and_a_packages_own_wins(peer):
    manifest = loaded(peer)
    assert manifest.package("greetings").inputs == {"CHANNEL": "#dev", "REGION": "us"}
    assert manifest.package("only-triggers").inputs == {"CHANNEL": "#dev", "REGION": "eu"}


def test_names_and_function_paths_take_variables(peer):
    manifest = loaded(peer)
    assert [s.qualified_name for s in manifest.sequences()] == ["greetings/greet-seq"]
    assert [t.name for t in manifest.triggers] == ["every-minute", "lonely"]
    assert [(r.name, r.trigger) for r in manifest.rules] == [("greet-rule", "every-minute")]
    hello1 = next(a for a in manifest.actions() if a.name == "hello1")
    assert hello1.code.path == peer / "src" / "hello.js"


def test_typed_inputs_without_values_get_their_types_zero(peer):
    """TestComposeActionsForSingleLineParams / ForMultiLineParams."""
    hello4 = next(a for a in loaded(peer).actions() if a.name == "hello4")
    assert hello4.inputs == {"COUNT": 0, "NAME": "", "RATIO": 2.9,
                             "LITERAL": "${NOT_A_VARIABLE}", "EMPTY": "${}"}


def test_web_decides_over_the_web_export_annotation(peer):
    """TestComposeActionsForWebAndWebExport: hello1..4."""
    actions = {a.name: a.all_annotations() for a in loaded(peer).actions()}
    assert actions["hello1"]["web-export"] is True
    assert actions["hello2"]["web-export"] is True
    assert "web-export" not in actions["hello3"]  # web: false, deployed without web access
    assert (actions["hello4"]["web-export"], actions["hello4"]["raw-http"]) == (True, True)
    assert actions["hello1"]["final"] is True  # wskdeploy's web: true adds final


def test_the_whole_project_deploys(peer, ow, capsys):
    # The sequence's component from outside the manifest, on the server already.
    base, auth = f"{ow.apihost}/api/v1/namespaces/_", tuple(AUTH.split(":", 1))
    assert requests.put(f"{base}/packages/shared?overwrite=true", json={}, auth=auth,
                        timeout=10).ok
    assert requests.put(f"{base}/actions/shared/formatter?overwrite=true", auth=auth, timeout=10,
                        json={"exec": {"kind": "nodejs:20", "code": "function main(){}"}}).ok
    status, out = run(capsys, "deploy")
    assert status == 0, out
    assert ow.view("packages", "greetings")["publish"] is True
    trigger = ow.view("triggers", "every-minute")
    feed = {item["key"]: item["value"] for item in trigger["annotations"]}["feed"]
    assert feed == "/ns/alarms/alarm"  # named through the binding, as wskdeploy calls it
    sequence = ow.view("actions", "greetings/greet-seq")["exec"]["components"]
    assert sequence == ["/ns/greetings/hello1", "/ns/shared/formatter"]
    assert "shared/formatter is not an action of the manifest" in out
    assert "package only-triggers" in out


def test_limits_reset_to_the_defaults_when_removed(tmp_path, monkeypatch, ow, capsys):
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "          function: actions/hello\n",
        "          function: actions/hello\n          limits: {memory: 512}\n", 1))
    assert run(capsys, "deploy")[0] == 0
    assert ow.view("actions", "demo/hello")["limits"]["memory"] == 512
    manifest.write_text(manifest.read_text().replace("          limits: {memory: 512}\n", ""))
    status, out = run(capsys, "deploy")
    assert status == 0, out
    assert "updated   action demo/hello" in out
    assert ow.view("actions", "demo/hello")["limits"]["memory"] == 256


def test_limits_are_judged_by_the_servers_range(tmp_path, monkeypatch, ow, capsys):
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    manifest = root / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace(
        "          function: actions/hello\n",
        "          function: actions/hello\n          limits: {timeout: 600000, memory: 2048}\n",
        1))
    status, out = run(capsys, "deploy", "--dry-run")
    assert status == 0, out  # offline: a warning, not a refusal
    assert "timeout: must be an integer from 100 to 300000 (ms), not 600000" in out
    status, out = run(capsys, "deploy")
    assert status == 2
    assert "from 100 to 300000" in out
    assert not ow.writes()
    ow.store.limits["timeout"] = (100, 600_000, 60_000, "duration", "milliseconds")
    ow.store.limits["memory"] = (128, 2048, 256, "memory", "MB")
    status, out = run(capsys, "deploy")
    assert status == 0, out
    assert ow.view("actions", "demo/hello")["limits"]["timeout"] == 600_000


def _app_builder(tmp_path, monkeypatch, ow, *, final: bool = True,
                 adobe_auth: bool = False) -> pathlib.Path:
    """The tutorial's App Builder project, its annotations as asked."""
    root = tmp_path / "app"
    shutil.copytree(FIXTURES / "app_builder_tutorial", root)
    config = next(root.rglob("ext.config.yaml"))
    text = config.read_text()
    old = "            require-adobe-auth: false\n            final: true\n"
    assert old in text
    config.write_text(text.replace(old, f"            require-adobe-auth: {str(adobe_auth).lower()}"
                                        f"\n            final: {str(final).lower()}\n"))
    env = {**HELLO_ENV, **ow.env(), "OAUTHS2S_CLIENT_ID": "id", "OAUTHS2S_CLIENT_SECRET": "s",
           "OAUTHS2S_CECREDENTIALS_METASCOPES": "a", "IMS_ORG_ID": "o"}
    return in_project(root, tmp_path, monkeypatch, env)


def test_app_builder_adds_no_implicit_final_and_the_deploy_says_what_that_exposes(
        tmp_path, monkeypatch, ow, capsys):
    _app_builder(tmp_path, monkeypatch, ow, final=False)
    status, out = run(capsys, "deploy")
    assert status == 0, out
    [name] = [n for n in ow.names("actions") if n.endswith("generic")]
    held = {item["key"]: item["value"] for item in ow.view("actions", name)["annotations"]}
    assert held["final"] is False
    assert "a web action without final: true, so any caller can override" in out
    assert "OAUTHS2S_CLIENT_SECRET" in out


def test_require_adobe_auth_loads_and_is_refused_off_adobes_runtime(tmp_path, monkeypatch, ow,
                                                                    capsys):
    root = _app_builder(tmp_path, monkeypatch, ow, adobe_auth=True)
    status, out = run(capsys, "render")
    assert status == 0, out
    assert "require-adobe-auth: true" in out
    status, out = run(capsys, "deploy")
    assert status == 2
    assert "generic: require-adobe-auth is enforced only on Adobe I/O Runtime" in out
    assert not ow.writes()
    status, out = run(capsys, "deploy", "--no-adobe-auth")
    assert status == 0, out
    assert "deployed without require-adobe-auth: its endpoint is not protected" in out
    [name] = [n for n in ow.names("actions") if n.endswith("generic")]
    keys = {item["key"] for item in ow.view("actions", name)["annotations"]}
    assert "require-adobe-auth" not in keys
    manifest = load_manifest(next(root.glob("app.config.yaml")), {
        line.partition("=")[0]: line.partition("=")[2]
        for line in (root / ".env").read_text().splitlines()})
    with pytest.raises(ConfigError, match="enforced only on Adobe I/O Runtime"):
        adobe_auth.for_host(manifest, "https://ow.example", without=False)


def test_on_adobes_runtime_it_becomes_the_validator_sequence_as_aio_makes_it(
        tmp_path, monkeypatch, ow):
    root = _app_builder(tmp_path, monkeypatch, ow, adobe_auth=True)
    env = dict(line.partition("=")[::2] for line in (root / ".env").read_text().splitlines())
    manifest = load_manifest(next(root.glob("app.config.yaml")), env)
    rewritten, warnings = adobe_auth.for_host(manifest, "https://adobeioruntime.net",
                                              without=False)
    assert warnings == []
    [action] = rewritten.actions()
    [sequence] = rewritten.sequences()
    assert (action.name, action.web) == ("__secured_generic", "no")
    assert "require-adobe-auth" not in action.annotations
    assert sequence.name == "generic"
    assert sequence.components == ("/adobeio/shared-validators-v1/headless-v2",
                                   f"{action.package}/__secured_generic")


def test_an_empty_variable_is_named_and_an_empty_identity_input_refused(
        tmp_path, monkeypatch, ow, capsys):
    root = _app_builder(tmp_path, monkeypatch, ow)
    env_file = root / ".env"
    env_file.write_text(env_file.read_text().replace("OAUTHS2S_CLIENT_ID=id",
                                                     "OAUTHS2S_CLIENT_ID="))
    status, out = run(capsys, "render")
    assert status == 0, out
    assert "$OAUTHS2S_CLIENT_ID is set but empty" in out
    status, out = run(capsys, "deploy")
    assert status == 2
    assert "identity inputs set to an empty value" in out
    assert "generic: OAUTHS2S_CLIENT_ID" in out
    assert not ow.writes()


def test_what_aio_deployed_for_the_app_is_this_projects_to_update_and_prune(
        tmp_path, monkeypatch, ow, capsys):
    """aio-lib-runtime names an app's project after its first package (or the app's
    name-version for __APP_PACKAGE__) and writes file manifest.yml."""
    _app_builder(tmp_path, monkeypatch, ow)
    aio = {"key": "whisk-managed", "value": {"projectName": "dx-excshell-1",
                                             "projectHash": "from-aio", "file": "manifest.yml",
                                             "projectDeps": []}}
    base, auth = f"{ow.apihost}/api/v1/namespaces/_", tuple(AUTH.split(":", 1))
    for path, body in (("packages/dx-excshell-1", {"annotations": [aio]}),
                       ("actions/dx-excshell-1/retired",
                        {"exec": {"kind": "nodejs:20", "code": "function main(){}"},
                         "annotations": [aio]})):
        assert requests.put(f"{base}/{path}?overwrite=true", json=body, auth=auth,
                            timeout=10).ok
    status, out = run(capsys, "deploy")
    assert status == 0, out  # aio's package is this project's: no --adopt needed
    assert "pruned    action dx-excshell-1/retired" in out
    status, out = run(capsys, "undeploy", "--project", "dx-excshell-1")
    assert status == 0, out
    assert "deleted action dx-excshell-1/generic" in out
    assert ow.names("actions") == []


# --- what wskdeploy's own corpus writes (tests/dat, tests/src/integration, docs/examples) --------

def _corpus(tmp_path: pathlib.Path, body: str, env: dict[str, str] | None = None):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "hello.js").write_text("function main(p) { return p; }\n")
    (tmp_path / "manifest.yaml").write_text(body)
    return load_manifest(tmp_path / "manifest.yaml", env or {})


def test_a_variable_may_name_a_project_input(tmp_path):
    """manifest_validate_package_inputs_3/4/5: $FIRST_NAME resolves to the project input."""
    manifest = _corpus(tmp_path, "project:\n  name: p\n  inputs:\n    FIRST_NAME: Amy\n"
                                 "    PACKAGE_NAME: greeter\n  packages:\n    $PACKAGE_NAME:\n"
                                 "      actions:\n        hello:\n"
                                 "          function: src/hello.js\n"
                                 "          inputs: {name: $FIRST_NAME, city: '${CITY}'}\n",
                       {"CITY": "Paris"})
    [action] = manifest.actions()
    assert (action.package, action.inputs) == ("greeter", {"name": "Amy", "city": "Paris"})


def test_corpus_keys_load_as_wskdeploy_reads_them(tmp_path):
    manifest = _corpus(tmp_path, """\
packages:
  demo:
    actions:
      $ACTION:
        location: src/hello.js
        conductor: true
        limits: {timeout: 180, memorySize: 128, logSize: 1, concurrentActivations: 10,
                 userInvocationRate: 50, codeSize: 1024, parameterSize: 128}
      skeleton:
        native: true
      guessed:
        function: src/hello.js
        runtime: nodejs@10
""", {"ACTION": "greeting"})
    actions = {action.name: action for action in manifest.actions()}
    greeting = actions["greeting"]
    assert greeting.code.path == tmp_path / "src" / "hello.js"  # location: is function:
    assert greeting.annotations == {"conductor": True}
    assert greeting.limits.to_api() == {"timeout": 180, "memory": 128, "logs": 1}
    assert actions["skeleton"].code.image == "openwhisk/dockerskeleton"
    assert actions["guessed"].kind == "nodejs:20"  # the extension's, with a warning
    warnings = "\n".join(manifest.warnings)
    assert "concurrentActivations: not changeable through the API; ignored" in warnings
    assert "'nodejs@10' is not a kind; the function's extension says nodejs:20" in warnings


@pytest.mark.parametrize(("lines", "words"), [
    ("function: https://example.com/hello.js", "a function at a URL needs the network"),
    ("function: src/hello.js\n        annotations: {web-export: raw123}",
     "'raw123' is not one of true, yes, false, no, raw"),
])
def test_what_wskdeploy_also_refuses_or_cannot_do_offline(tmp_path, lines, words):
    from tools.errors import ManifestError

    with pytest.raises(ManifestError, match=words):
        _corpus(tmp_path, f"packages:\n  demo:\n    actions:\n      hello:\n        {lines}\n")


def test_an_unset_package_variable_is_listed_as_unset(tmp_path):
    from tools.manifest import UnsetVariablesError

    with pytest.raises(UnsetVariablesError, match="PKG"):
        _corpus(tmp_path, "packages:\n  $PKG:\n    actions:\n      send-message:\n"
                          "        function: src/hello.js\n    sequences:\n"
                          "      post: {actions: send-message}\n")
