"""Property-based tests of bad input: the action and the manifest resolver never break.

``main`` over arbitrary parameters always answers the success shape or the
error shape with an integer status, and never raises. The manifest resolver
over arbitrary text with ``$`` in it, and over manifests of the wrong shape,
answers a ManifestError naming what is wrong, or a result: never another
exception, which the user would see as a traceback or an "unexpected" error.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import deploy as cli
from actions.generic import main
from tests.deploy_support import make_project
from tools.manifest import Manifest, ManifestError, load_manifest, substitute
from tools.sandbox import AdobeEmulator

# An emulator shared by a test's examples is what we want: examples must not reach the network.
WITH_EMULATOR = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
QUICK = settings(max_examples=200, deadline=None)

# --- arbitrary JSON, with the awkward cases OpenWhisk can deliver ----------------------------

odd_text = st.one_of(
    st.text(),
    st.from_regex(r"[!-~]{1,30}", fullmatch=True),  # passes the header check: reaches Adobe
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.sampled_from(["", " ", "\x00", "true", "debug", "é€𝄞", "a,b,,", "Bearer ", "${X}",
                     "null", "0", "\r\nX-Injected: 1"]),
    st.builds(lambda piece, times: piece * times, st.sampled_from(["x", "é", "€", "𝄞"]),
              st.integers(100_000, 1_200_000)),  # huge strings, up to a few MB
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    odd_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
KNOWN_KEYS = ("OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET", "OAUTHS2S_CECREDENTIALS_METASCOPES",
              "IMS_ORG_ID", "LOG_LEVEL", "current", "__ow_headers", "__ims_oauth_s2s",
              "__ow_method", "__ow_body")
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=20))
ow_headers = st.one_of(json_values, st.dictionaries(
    st.sampled_from(["authorization", "Authorization", "content-type", "x-gw-ims-org-id"]),
    json_values, max_size=4))
injected = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "client_id": json_values, "client_secret": json_values, "scopes": json_values,
    "org_id": json_values}))


@st.composite
def action_params(draw: st.DrawFn, emulator: AdobeEmulator) -> Any:
    """Anything OpenWhisk could pass: free-form, or the real inputs with some of them spoiled."""
    shape = draw(st.sampled_from(["free", "spoiled", "not an object"]))
    if shape == "not an object":
        return draw(json_values)
    params: dict[str, Any] = {}
    if shape == "spoiled":
        params.update(emulator.params())
        params[draw(st.sampled_from(KNOWN_KEYS))] = draw(json_values)
    params.update(draw(st.dictionaries(keys, json_values, max_size=4)))
    if draw(st.booleans()):
        params["__ow_headers"] = draw(ow_headers)
    if draw(st.booleans()):
        params["__ims_oauth_s2s"] = draw(injected)
    return params


def assert_web_response(result: Any) -> None:
    """Exactly one of the two shapes the web action projects, and JSON OpenWhisk can carry."""
    assert isinstance(result, dict)
    json.dumps(result, allow_nan=False)
    if "error" in result:
        assert set(result) == {"error"}
        error = result["error"]
        assert set(error) <= {"statusCode", "body", "headers"}
        assert type(error["statusCode"]) is int
        assert 400 <= error["statusCode"] <= 599
        assert isinstance(error["body"]["error"], str)
        assert error["body"]["error"]
    else:
        assert set(result) == {"statusCode", "headers", "body"}
        assert result["statusCode"] == 200


@WITH_EMULATOR
@given(data=st.data())
def test_main_answers_a_web_response_for_any_params(adobe: AdobeEmulator,
                                                    data: st.DataObject) -> None:
    params = data.draw(action_params(adobe))
    result = main(params)
    assert_web_response(result)
    event(f"status {result.get('statusCode') or result['error']['statusCode']}")


@WITH_EMULATOR
@given(data=st.data())
def test_a_bad_input_is_a_400_that_never_calls_adobe(adobe: AdobeEmulator,
                                                     data: st.DataObject) -> None:
    """A wrong type for any credential is refused before a request is made."""
    name = data.draw(st.sampled_from(["OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET",
                                      "OAUTHS2S_CECREDENTIALS_METASCOPES", "IMS_ORG_ID"]))
    value = data.draw(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                                st.dictionaries(st.text(max_size=3), scalars, max_size=2)))
    before = adobe.token_requests + adobe.aem_requests
    result = main({**adobe.params(), name: value})
    assert_web_response(result)
    assert result["error"]["statusCode"] == 400
    assert name in result["error"]["body"]["error"]
    assert adobe.token_requests + adobe.aem_requests == before


# --- the manifest resolver -------------------------------------------------------------------

dollar_text = st.text(alphabet=st.sampled_from(list("$${}{}AZaz_09 .-é\n")), max_size=30)
variable_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True)
environments = st.dictionaries(variable_names, st.text(max_size=10), max_size=5)


@QUICK
@given(text=st.one_of(dollar_text, st.text()), env=environments)
def test_substitute_answers_text_or_a_manifest_error(text: str, env: dict[str, str]) -> None:
    try:
        result = substitute(text, env, "packages.p.inputs.X")
    except ManifestError as exc:
        result = str(exc)
        assert "$" in text
        assert "packages.p.inputs.X" in result or "unset variable" in result
    assert isinstance(result, str)
    if "$" not in text:
        assert result == text


@QUICK
@given(text=st.one_of(dollar_text, st.text()))
def test_doubling_every_dollar_gives_the_text_back(text: str) -> None:
    assert substitute(text.replace("$", "$$"), {}, "x") == text


@QUICK
@given(name=variable_names, value=st.text(), before=st.text(alphabet="ab. -"),
       after=st.text(alphabet="ab. -"))
def test_a_braced_variable_is_replaced_by_its_value_verbatim(
        name: str, value: str, before: str, after: str) -> None:
    assert substitute(f"{before}${{{name}}}{after}", {name: value}, "x") == before + value + after


# Manifests: the right skeleton with any part replaced by something of the wrong shape.
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=15), dollar_text, st.integers(10**300, 10**400)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers()),
                                            inner, max_size=3)),
    max_leaves=8,
)


def maybe(good: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(good), yaml_values)


@st.composite
def typed_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """wskdeploy's {type, value, default, required} inputs, with values that may not fit."""
    return draw(st.fixed_dictionaries({}, optional={
        "type": st.one_of(st.sampled_from(["string", "integer", "float", "boolean", "json"]),
                          yaml_values),
        "value": st.one_of(yaml_values, st.sampled_from(["[" * 5000, "1e999", "{", "nan"])),
        "default": yaml_values,
        "required": st.booleans(),
        "description": st.text(max_size=5),
    }))


@st.composite
def manifests(draw: st.DrawFn) -> Any:
    action = draw(st.fixed_dictionaries({"function": maybe("actions/hello")}, optional={
        "runtime": maybe("python:3.11"), "kind": maybe("python:3.12"), "main": maybe("main"),
        "web": maybe("yes"), "web-export": maybe(True),
        "inputs": st.one_of(yaml_values, st.dictionaries(
            st.text(max_size=8), st.one_of(yaml_values, typed_inputs()), max_size=3)),
        "annotations": maybe({"final": True}),
        "limits": st.one_of(yaml_values, st.dictionaries(
            st.sampled_from(["timeout", "memory", "memorySize", "logs", "logSize",
                             "concurrency", "cpu"]), yaml_values, max_size=3)),
    }))
    package = draw(st.fixed_dictionaries({"actions": maybe({"hello": action})}, optional={
        "inputs": yaml_values, "annotations": yaml_values, "version": yaml_values}))
    packages = draw(maybe({draw(st.sampled_from(["demo", "de mo", "", "-x", "ok.1"])): package}))
    layout = draw(st.sampled_from(["packages", "project", "runtimeManifest", "both"]))
    if layout == "project":
        return {"project": draw(maybe({"name": "p", "packages": packages}))}
    if layout == "runtimeManifest":
        return {"runtimeManifest": draw(maybe({"packages": packages}))}
    if layout == "both":
        return {"packages": packages, "project": {"packages": packages}}
    return draw(maybe({"packages": packages}))


manifest_text = st.one_of(
    manifests().map(lambda document: yaml.safe_dump(document, allow_unicode=True)),
    st.text(alphabet=st.sampled_from(list("packages:actions-{}[]'\"&*!|>$ \n\t#%@`")),
            max_size=60),
    st.sampled_from(["packages: [", "[" * 600, "a: &x [*x]", "packages: !!binary aGk=",
                     "packages:\n  demo:\n    inputs:\n      when: 2024-01-01\n"
                     "    actions:\n      hello:\n        function: actions/hello\n"
                     "        runtime: python:3.11\n",
                     "packages: {demo: {actions: {hello: {function: actions/hello, "
                     "runtime: python:3.11, inputs: {s: !!set {a}}}}}}"]),
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A project with a real action, so a well-shaped manifest gets all the way through."""
    root = tmp_path_factory.mktemp("project")
    make_project(root)
    return root


@QUICK
@given(text=manifest_text, env=environments)
def test_load_manifest_answers_a_manifest_or_a_manifest_error(
        project: pathlib.Path, text: str, env: dict[str, str]) -> None:
    path = project / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        manifest: Manifest | str = load_manifest(path, env)
    except ManifestError as exc:
        manifest = str(exc)
    if isinstance(manifest, str):
        assert manifest.startswith(f"{path}: ")  # the message says which file
    else:
        # What a deploy sends must be JSON, or it would fail half-way through.
        json.dumps([(a.inputs, a.annotations) for a in manifest.actions()], allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(text=manifest_text)
def test_render_and_a_dry_run_deploy_exit_cleanly_whatever_the_manifest(
        project: pathlib.Path, text: str) -> None:
    """Exit 0, or 2 with a message naming the manifest; never 1 for an "unexpected" error."""
    path = project / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    for argv in (["render", "--manifest", str(path)],
                 ["deploy", "--dry-run", "--manifest", str(path)]):
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(project)
            patch.setenv("HOME", str(project))  # no ~/.wskprops of the user's
            assert cli.main(argv) in (0, 2)
