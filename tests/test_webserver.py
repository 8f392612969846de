"""The local web-action server follows OpenWhisk's translation and projection rules, over HTTP."""

from __future__ import annotations

import base64
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.local_support import temporary_project
from tools.local.server import WebActionServer
from tools.local.web_actions import EXTENSION_NOT_SUPPORTED
from tools.local.web_types import (
    CONTENT_TYPE_MISMATCH,
    NOT_ALLOWED,
    NOT_FOUND,
    PROCESSING_ERROR,
    PROPERTY_NOT_FOUND,
    UNAUTHORIZED,
    UNKNOWN_CONTENT_TYPE,
    decode_base64,
    invalid_media,
    is_binary,
    looks_base64,
)

ACTIVATION_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def project(tmp_path, monkeypatch):
    yield from temporary_project(tmp_path, monkeypatch)


@pytest.fixture
def server(project):
    with WebActionServer(project.all_local(), "guest", port=0) as running:
        yield running


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session


def url(server: WebActionServer, path: str) -> str:
    return f"{server.url}/api/v1/web/guest/demo/{path}"


def call(http: requests.Session, server: WebActionServer, path: str, method: str = "GET",
         **kwargs: Any) -> requests.Response:
    return http.request(method, url(server, path), timeout=10, **kwargs)


def received(http, server, path: str = "echo", method: str = "GET", **kwargs) -> dict[str, Any]:
    """The parameters the echo action got."""
    answer = call(http, server, path, method, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()["params"]


def answered(http, server, result: Any, extension: str = "") -> requests.Response:
    """What the server makes of ``result``, returned by the reply action."""
    return call(http, server, f"reply{extension}", "POST", json={"reply": result})


def openwhisk_error(answer: requests.Response, status: int, message: str) -> None:
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == message
    assert re.fullmatch(r"[0-9a-f]{32}", body["code"])


# --- request translation -----------------------------------------------------------------------

def test_the_action_gets_its_inputs_and_the_request_context(http, server):
    params = received(http, server, "echo/extra/path", headers={"X-Custom-Header": "Yes"})
    assert params["DEFINED"] == "deployed"
    assert params["PKG_INPUT"] == "from-package"
    assert params["SHARED"] == "action-value"
    assert params["__ow_method"] == "get"
    assert params["__ow_path"] == "/extra/path"
    assert params["__ow_headers"]["x-custom-header"] == "Yes"
    assert all(name == name.lower() for name in params["__ow_headers"])
    assert "__ow_query" not in params
    assert "__ow_body" not in params


def test_the_path_is_empty_without_extra_segments(http, server):
    assert received(http, server)["__ow_path"] == ""


def test_query_then_json_body_are_merged_the_body_winning(http, server):
    params = received(http, server, "echo?a=1&k=from-query", "POST", json={"k": "from-body",
                                                                           "n": 2})
    assert params["a"] == "1"
    assert params["k"] == "from-body"
    assert params["n"] == 2
    assert params["__ow_method"] == "post"
    assert params["__ow_headers"]["content-type"] == "application/json"


def test_a_form_body_is_merged(http, server):
    params = received(http, server, "echo", "PUT", data={"name": "Ada", "empty": ""})
    assert (params["name"], params["empty"]) == ("Ada", "")
    assert params["__ow_method"] == "put"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"json": [1, 2]}, [1, 2]),
        ({"data": "hello", "headers": {"Content-Type": "text/plain"}}, "hello"),
        ({"data": b"\x00\x01", "headers": {"Content-Type": "application/octet-stream"}},
         base64.b64encode(b"\x00\x01").decode()),
    ],
)
def test_a_body_that_is_not_an_object_arrives_in_ow_body(http, server, kwargs, expected):
    assert received(http, server, "echo", "POST", **kwargs)["__ow_body"] == expected


def test_malformed_json_is_refused(http, server):
    answer = call(http, server, "echo", "POST", data="{oops",
                  headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "malformed" in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("echo?DEFINED=mine", {}),  # an action input
        ("echo", {"json": {"PKG_INPUT": "mine"}}),  # a package input
        ("echo", {"data": {"SHARED": "mine"}}),  # in a form
        ("echo?__ow_method=post", {}),
        ("open?__ow_headers=x", {}),  # reserved names even without final
    ],
)
def test_final_and_reserved_parameters_cannot_be_set_by_the_request(http, server, path, kwargs):
    answer = call(http, server, path, "POST", **kwargs)
    openwhisk_error(answer, 400, NOT_ALLOWED)
    assert "x-openwhisk-activation-id" not in answer.headers  # refused before any activation


def test_without_final_the_request_overrides_inputs(http, server):
    assert received(http, server, "open?DEFINED=mine")["DEFINED"] == "mine"


def test_a_raw_http_action_gets_the_raw_query_and_body(http, server):
    params = received(http, server, "raw?a=1&__ow_method=x", "POST", json={"k": "v"})
    assert params["__ow_query"] == "a=1&__ow_method=x"
    assert base64.b64decode(params["__ow_body"]) == b'{"k": "v"}'
    assert params["__ow_method"] == "post"
    assert "a" not in params
    assert "k" not in params


def test_a_raw_http_action_gets_text_as_is_and_no_body_as_empty(http, server):
    assert received(http, server, "raw", "POST", data="a=b",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}
                    )["__ow_body"] == "a=b"
    assert received(http, server, "raw")["__ow_body"] == ""


@pytest.mark.parametrize("header", [None, "wrong"])
def test_require_whisk_auth_needs_the_secret_header(http, server, header):
    headers = {} if header is None else {"X-Require-Whisk-Auth": header}
    openwhisk_error(call(http, server, "guarded", headers=headers), 401, UNAUTHORIZED)


def test_require_whisk_auth_lets_the_right_header_in(http, server):
    assert received(http, server, "guarded", headers={"X-Require-Whisk-Auth": "let-me-in"})


def test_require_whisk_auth_true_needs_an_openwhisk_user_which_local_callers_are_not(http,
                                                                                      server):
    openwhisk_error(call(http, server, "guarded-user"), 401, UNAUTHORIZED)


def test_options_is_answered_with_cors_headers_without_running_the_action(http, server):
    answer = call(http, server, "echo", "OPTIONS",
                  headers={"Access-Control-Request-Headers": "X-Mine"})
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "PATCH" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == "X-Mine"
    assert "x-openwhisk-activation-id" not in answer.headers


def test_cors_headers_come_with_every_answer(http, server):
    assert call(http, server, "echo").headers["Access-Control-Allow-Origin"] == "*"


def test_web_custom_options_hands_options_to_the_action(http, server):
    answer = call(http, server, "options", "OPTIONS")
    assert answer.json()["params"]["__ow_method"] == "options"
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/web/guest/demo/private",  # not a web action
        "/api/v1/web/guest/demo/absent",
        "/api/v1/web/other-namespace/demo/echo",
        "/api/v1/web/guest/demo",
        "/api/v1/namespaces/guest/actions/echo",
    ],
)
def test_what_is_not_a_web_action_here_is_not_found(http, server, path):
    openwhisk_error(http.get(server.url + path, timeout=10), 404, NOT_FOUND)


def test_a_body_over_the_request_limit_is_refused(http, server):
    answer = call(http, server, "echo", "POST", data=b"x" * 1_048_577,
                  headers={"Content-Type": "text/plain"})
    assert answer.status_code == 413


# --- extensions and projection -----------------------------------------------------------------

def test_json_extension_returns_the_result_as_is(http, server):
    answer = call(http, server, "echo.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["body"]["params"]["__ow_path"] == ""


def test_http_extension_is_the_default(http, server):
    assert call(http, server, "echo.http/more").json()["params"]["__ow_path"] == "/more"


def test_an_unknown_extension_is_not_acceptable(http, server):
    openwhisk_error(call(http, server, "echo.xml"), 406, EXTENSION_NOT_SUPPORTED)


@pytest.mark.parametrize(
    ("extension", "result", "content_type", "body"),
    [
        (".html", {"html": "<p>hi</p>"}, "text/html", b"<p>hi</p>"),
        (".html", {"body": "<p>b</p>", "html": "<p>h</p>"}, "text/html", b"<p>b</p>"),
        (".svg", {"svg": "<svg/>"}, "image/svg+xml", b"<svg/>"),
        (".text", {"text": "plain"}, "text/plain", b"plain"),
        (".text", {"text": 12}, "text/plain", b"12"),
        (".json", [1, 2], "application/json", b"[1, 2]"),
    ],
)
def test_other_extensions_project_their_field(http, server, extension, result, content_type,
                                              body):
    answer = answered(http, server, result, extension)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith(content_type)
    assert answer.content == body


@pytest.mark.parametrize(
    ("extension", "result", "status", "message"),
    [
        (".html", {"html": 3}, 400, invalid_media("text/html")),
        (".svg", {}, 400, invalid_media("image/svg+xml")),
        (".text", {"other": 1}, 404, PROPERTY_NOT_FOUND),
    ],
)
def test_a_missing_or_wrong_field_is_refused(http, server, extension, result, status, message):
    openwhisk_error(answered(http, server, result, extension), status, message)


@pytest.mark.parametrize(
    ("result", "status", "content_type", "body"),
    [
        ({"statusCode": 201, "body": {"ok": True}}, 201, "application/json", {"ok": True}),
        ({"body": [1, "two"]}, 200, "application/json", [1, "two"]),
        ({"statusCode": "202", "body": {}}, 202, "application/json", {}),
        ({"statusCode": 200.0, "body": {}}, 200, "application/json", {}),
        ({"body": {"a": 1}, "headers": {"Content-Type": "application/problem+json"}}, 200,
         "application/problem+json", {"a": 1}),
    ],
)
def test_http_projection_of_json_bodies(http, server, result, status, content_type, body):
    answer = answered(http, server, result)
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == content_type
    assert answer.json() == body


def test_a_string_body_defaults_to_html(http, server):
    answer = answered(http, server, {"body": "<h1>hi</h1>"})
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text == "<h1>hi</h1>"


@pytest.mark.parametrize(
    ("result", "status"),
    [({}, 204), ({"body": ""}, 204), ({"body": None}, 204), ({"statusCode": 202}, 202),
     ({"statusCode": 200, "headers": {"Content-Type": "text/plain"}}, 200)],
)
def test_no_body_is_an_empty_answer(http, server, result, status):
    answer = answered(http, server, result)
    assert answer.status_code == status
    assert answer.content == b""
    assert "Content-Type" not in answer.headers


def test_binary_content_types_need_base64_bodies(http, server):
    png = b"\x89PNG\r\n\x1a\n\x00"
    answer = answered(http, server, {"headers": {"Content-Type": "image/png"},
                                     "body": base64.b64encode(png).decode()})
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.content == png


def test_a_base64_json_string_body_is_decoded(http, server):
    encoded = base64.b64encode(b'{"a": 1}').decode()
    answer = answered(http, server, {"headers": {"Content-Type": "application/json"},
                                     "body": encoded})
    assert answer.json() == {"a": 1}


def test_headers_take_strings_numbers_booleans_and_lists(http, server):
    answer = answered(http, server, {"headers": {"X-Text": "t", "X-Number": 3, "X-Flag": True,
                                                 "Set-Cookie": ["a=1", "b=2"]},
                                     "body": "ok"})
    assert (answer.headers["X-Text"], answer.headers["X-Number"]) == ("t", "3")
    assert answer.headers["X-Flag"] == "true"
    assert answer.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([1, 2], invalid_media("message/http")),
        ({"statusCode": "abc"}, invalid_media("message/http")),
        ({"statusCode": 999}, invalid_media("message/http")),
        ({"statusCode": True}, invalid_media("message/http")),
        ({"headers": ["X-A"]}, invalid_media("message/http")),
        ({"headers": {"X-A": {"nested": 1}}}, invalid_media("message/http")),
        ({"headers": {"Content-Type": "image/png"}, "body": "not base64!"}, CONTENT_TYPE_MISMATCH),
        ({"headers": {"Content-Type": "text/plain"}, "body": {"a": 1}}, CONTENT_TYPE_MISMATCH),
        ({"headers": {"Content-Type": "nonsense"}, "body": "x"}, UNKNOWN_CONTENT_TYPE),
    ],
)
def test_results_openwhisk_cannot_project_get_its_400(http, server, result, message):
    answer = answered(http, server, result)
    openwhisk_error(answer, 400, message)
    assert ACTIVATION_ID.fullmatch(answer.headers["x-openwhisk-activation-id"])


# --- error results -----------------------------------------------------------------------------

def test_an_error_result_is_projected_from_its_error_value(http, server):
    answer = answered(http, server, {"error": {"statusCode": 404, "headers": {"X-Why": "gone"},
                                               "body": {"error": "nope"}}})
    assert answer.status_code == 404
    assert answer.headers["X-Why"] == "gone"
    assert answer.json() == {"error": "nope"}


def test_a_bare_error_string_is_an_unhelpful_400(http, server):
    openwhisk_error(answered(http, server, {"error": "text"}), 400,
                    invalid_media("message/http"))


def test_an_uncaught_exception_is_an_unhelpful_400(http, server):
    openwhisk_error(call(http, server, "boom"), 400, invalid_media("message/http"))


def test_an_error_result_under_json_is_its_error_value(http, server):
    answer = answered(http, server, {"error": {"why": "x"}}, ".json")
    assert (answer.status_code, answer.json()) == (200, {"why": "x"})


def test_a_result_that_is_not_a_dictionary_is_a_processing_error(http, server):
    answer = answered(http, server, "a string")
    openwhisk_error(answer, 400, PROCESSING_ERROR)
    assert ACTIVATION_ID.fullmatch(answer.headers["x-openwhisk-activation-id"])


# --- the server itself -------------------------------------------------------------------------

def test_every_activation_answer_carries_its_activation_id(http, server):
    first = call(http, server, "echo").headers["x-openwhisk-activation-id"]
    second = answered(http, server, {"statusCode": 500}).headers["x-openwhisk-activation-id"]
    assert ACTIVATION_ID.fullmatch(first)
    assert ACTIVATION_ID.fullmatch(second)
    assert first != second


def test_the_activation_id_is_the_one_the_action_saw(http, server):
    answer = call(http, server, "echo")
    seen = answer.json()["ow"]["__OW_ACTIVATION_ID"]
    assert answer.headers["x-openwhisk-activation-id"] == seen


def test_head_answers_headers_only(http, server):
    answer = call(http, server, "echo", "HEAD")
    assert answer.status_code == 200
    assert answer.content == b""
    assert int(answer.headers["Content-Length"]) > 0


def test_one_request_at_a_time_per_action(project, server):
    def ask(_: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            return call(session, server, "overlap").json()["max"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = list(pool.map(ask, range(8)))
    assert seen == [1] * 8


def test_a_line_per_request_goes_to_stderr(http, server, capsys):
    call(http, server, "echo?secret=s3cr3t")
    call(http, server, "absent")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if '"tools.local.server"' in line]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/api/v1/web/guest/demo/echo", 200),
        ("GET", "/api/v1/web/guest/demo/absent", 404),
    ]
    assert "s3cr3t" not in json.dumps(lines)
    assert all(x["message"].endswith(" ms") for x in lines)


def test_only_web_actions_are_served(project):
    with WebActionServer(project.all_local(), "guest", port=0) as running:
        prefix = f"{running.url}/api/v1/web/guest/demo/"
        urls = running.action_urls()
    assert prefix + "echo" in urls
    assert prefix + "raw" in urls
    assert prefix + "private" not in urls


def test_stop_leaves_no_thread_behind(project, http):
    before = set(threading.enumerate())
    with WebActionServer(project.all_local(), "guest", port=0) as running:
        call(http, running, "echo")  # a keep-alive connection stays open
    assert set(threading.enumerate()) == before


# --- helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [("QUJD", True), ("QUI=", True), ("abc", False),
                                                ("", False), ("QU I=", False), ("true", True)])
def test_looks_base64_is_openwhisks_test(text, expected):
    assert looks_base64(text) is expected


def test_decode_base64_accepts_missing_padding_like_java():
    assert decode_base64("QUI") == b"AB"


@pytest.mark.parametrize(("media", "binary"), [("text/plain", False), ("application/json", False),
                                               ("application/vnd.x+json", False),
                                               ("image/svg+xml", False), ("image/png", True),
                                               ("application/octet-stream", True)])
def test_is_binary_follows_akka(media, binary):
    assert is_binary(media) is binary
