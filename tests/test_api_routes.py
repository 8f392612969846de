"""``apis:`` read from a manifest: wskdeploy's and App Builder's syntax, the defaults, the action
made a web action, and each refusal named by its manifest path."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from tests.deploy_support import FIXTURES, make_project
from tools.errors import ManifestError
from tools.manifest import load_manifest
from tools.manifest.model import Route

API_PROJECT = (FIXTURES / "api_project" / "manifest.yaml").read_text(encoding="utf-8")
HELLO = "{function: actions/hello, runtime: 'python:3.11'}"
WEB_HELLO = "{function: actions/hello, runtime: 'python:3.11', web: 'yes'}"


def load(root: pathlib.Path, manifest: str):
    return load_manifest(make_project(root, textwrap.dedent(manifest)), {"NAME": "world"})


def with_apis(apis: str, hello: str = WEB_HELLO, more: str = "") -> str:
    return (f"packages:\n  demo:\n    actions:\n      hello: {hello}\n{more}"
            f"    apis:\n{textwrap.indent(textwrap.dedent(apis), '      ')}")


def test_the_wskdeploy_syntax_gives_each_action_its_routes(tmp_path):
    manifest = load(tmp_path, API_PROJECT)

    assert manifest.routes() == [
        Route("book-club", "/club", "/books", "GET", "json", "club/books"),
        Route("book-club", "/club", "/books/{isbn}", "GET", "http", "club/book"),
        Route("book-club", "/club", "/members", "POST", "json", "club/members"),
    ]
    members = next(action for action in manifest.actions() if action.name == "members")
    assert members.web == "yes"
    assert members.routes[0].made_web  # it had no web key
    assert not manifest.routes()[0].made_web


def test_the_app_builder_syntax_is_read_the_same_way(tmp_path):
    manifest = load(tmp_path, f"""\
        application:
          runtimeManifest:
            packages:
              demo:
                actions:
                  hello: {WEB_HELLO}
                sequences:
                  both: {{actions: hello, web: 'yes'}}
                apis:
                  shop:
                    /v2/shop/:
                      /items/{{id}}/:
                        hello: {{method: get}}
                      items:
                        both: {{method: Put, response: text}}
        """)

    assert manifest.routes() == [
        Route("shop", "/v2/shop/", "/items/{id}/", "GET", "http", "demo/hello"),
        Route("shop", "/v2/shop/", "/items", "PUT", "text", "demo/both"),
    ]
    assert manifest.routes()[0].path == "/v2/shop/items/{id}/"


FAULTS = [
    # (apis:, the action, the path named, words of the message)
    ("a: {/b: {/c: {nope: {method: get}}}}\n", WEB_HELLO, "packages.demo.apis.a./b./c.nope",
     "unknown action 'nope': a route calls an action or sequence of package 'demo' declared "
     "here (its own: hello)"),
    ("a: {/b: {/c: {hello: {method: get}}}}\n", HELLO.replace("}", ", web: 'no'}"),
     "packages.demo.apis.a./b./c.hello", "action 'hello' is not a web action (web: no)"),
    ("a: {/b: {/c: {hello: {method: get}}}}\n",
     HELLO.replace("}", ", annotations: {web-export: false}}"),
     "packages.demo.apis.a./b./c.hello", "is not a web action"),
    ("a: {/b: {/c: {hello: {}}}}\n", WEB_HELLO, "packages.demo.apis.a./b./c.hello.method",
     "is required: one of GET, PUT, POST, DELETE, PATCH, HEAD, OPTIONS, not None"),
    ("a: {/b: {/c: {hello: {method: fetch}}}}\n", WEB_HELLO,
     "packages.demo.apis.a./b./c.hello.method", "not 'fetch'"),
    ("a: {/b: {/c: {hello: {method: get, response: xml}}}}\n", WEB_HELLO,
     "packages.demo.apis.a./b./c.hello.response", "must be one of json, http, text, html, svg"),
    ("a: {/b: {'/c/{id}': {hello: {method: get, response: json}}}}\n", WEB_HELLO,
     "packages.demo.apis.a./b./c/{id}.hello.response",
     "is json, but /c/{id} has path parameters: the action must use a response type of 'http'"),
    ("a: {'/b/{x}': {/c: {hello: {method: get}}}}\n", WEB_HELLO, "packages.demo.apis.a./b/{x}",
     "the base path (/b/{x}) cannot have parameters"),
    ("a: {/b: {'/c d': {hello: {method: get}}}}\n", WEB_HELLO, "packages.demo.apis.a./b./c d",
     "'/c d' is not a relative path"),
    ("a: {/b: {'/c/{1x}': {hello: {method: get}}}}\n", WEB_HELLO,
     "packages.demo.apis.a./b./c/{1x}", "a path parameter is {name}"),
    ("a: {/b: {/c: {hello: {method: get, verb: x}}}}\n", WEB_HELLO,
     "packages.demo.apis.a./b./c.hello.verb", "unknown key"),
    ("a: [x]\n", WEB_HELLO, "packages.demo.apis.a", "must be a mapping, not a list"),
]


@pytest.mark.parametrize(("apis", "hello", "where", "words"), FAULTS)
def test_a_bad_route_is_refused_by_its_manifest_path(tmp_path, apis, hello, where, words):
    with pytest.raises(ManifestError) as refused:
        load(tmp_path, with_apis(apis, hello))

    assert f": {where}: " in str(refused.value)
    assert words in str(refused.value)


def test_a_route_in_another_package_is_refused_too(tmp_path):
    other = f"  other:\n    actions:\n      there: {WEB_HELLO}\n"
    with pytest.raises(ManifestError, match="unknown action 'there'"):
        load(tmp_path, with_apis("a: {/b: {/c: {there: {method: get}}}}\n") + other)


def test_the_same_route_twice_in_a_package_keeps_the_last_as_the_gateway_would(tmp_path):
    """wskdeploy's manifest_data_compose_api_records: two GET routes on /club2/members2."""
    manifest = load(tmp_path, with_apis(
        "a: {/b: {/c: {hello: {method: get}, there: {method: GET}}}}\n",
        more=f"      there: {WEB_HELLO}\n"))
    assert [(route.action, route.path) for route in manifest.routes()] == [("demo/there",
                                                                            "/b/c")]
    assert any("route GET /b/c is also declared at" in warning and "this one wins" in warning
               for warning in manifest.warnings)


def test_the_same_route_in_two_packages_is_refused(tmp_path):
    other = (f"  other:\n    actions:\n      there: {WEB_HELLO}\n"
             "    apis: {a: {/b: {/c: {there: {method: get}}}}}\n")
    with pytest.raises(ManifestError, match=r"packages\.other\.apis\.a\./b\./c\.there: route GET "
                                            r"/b/c is also declared at packages\.demo"):
        load(tmp_path, with_apis("a: {/b: {/c: {hello: {method: get}}}}\n") + other)
