"""lib.params and lib.web: the App Builder template helpers, with Node's semantics."""

from __future__ import annotations

import json

import pytest

from lib.errors import BadRequest
from lib.params import (
    bearer_token,
    boolean_param,
    is_missing,
    lookup,
    missing_inputs_message,
    redacted_params,
)
from lib.redact import HIDDEN
from lib.web import error_response, success_response

# --- missing inputs -------------------------------------------------------------------------


def test_nothing_missing_gives_no_message() -> None:
    params = {"a": 1, "b": "x", "__ow_headers": {"authorization": "Bearer t"}}
    assert missing_inputs_message(params, ["a", "b"], ["authorization"]) is None
    assert missing_inputs_message({}) is None


def test_missing_parameters_are_listed_in_the_order_asked_comma_without_space() -> None:
    message = missing_inputs_message({"b": 1}, ["c", "b", "a"])
    assert message == "missing parameter(s) 'c,a'"


@pytest.mark.parametrize("value", [0, None, False, [], {}, " "])
def test_falsy_values_other_than_the_empty_string_are_present(value: object) -> None:
    assert missing_inputs_message({"a": value}, ["a"]) is None
    assert not is_missing({"a": value}, "a")


def test_the_empty_string_counts_as_missing() -> None:
    assert missing_inputs_message({"a": ""}, ["a"]) == "missing parameter(s) 'a'"


def test_dotted_keys_walk_nested_objects() -> None:
    params = {"a": {"b": {"c": 0, "e": ""}}, "s": "text", "n": None}
    assert missing_inputs_message(params, ["a.b.c"]) is None
    assert missing_inputs_message(params, ["a.b.d", "a.x.c", "a.b.e", "s.len", "n.x"]) == (
        "missing parameter(s) 'a.b.d,a.x.c,a.b.e,s.len,n.x'"
    )


def test_lookup_returns_the_nested_value_and_a_sentinel_when_absent() -> None:
    params = {"a": {"b": [1, 2]}}
    assert lookup(params, "a.b") == [1, 2]
    assert lookup(params, "a") == {"b": [1, 2]}
    absent = lookup(params, "a.c")
    assert absent is lookup(params, "z")
    assert absent is not None


def test_headers_are_looked_up_lower_cased_in_ow_headers() -> None:
    params = {"__ow_headers": {"authorization": "Bearer t", "x-gw-ims-org-id": "org"}}
    assert missing_inputs_message(params, [], ["Authorization", "X-GW-IMS-ORG-ID"]) is None


def test_missing_headers_are_named_lower_cased_as_node_does() -> None:
    message = missing_inputs_message({"__ow_headers": {}}, [], ["X-Api-Key", "authorization"])
    assert message == "missing header(s) 'x-api-key,authorization'"


def test_headers_are_not_taken_from_top_level_params() -> None:
    params = {"authorization": "Bearer t", "__ow_headers": "not an object"}
    assert missing_inputs_message(params, [], ["authorization"]) == (
        "missing header(s) 'authorization'"
    )


def test_empty_header_counts_as_missing() -> None:
    params = {"__ow_headers": {"x-api-key": ""}}
    assert missing_inputs_message(params, [], ["x-api-key"]) == "missing header(s) 'x-api-key'"


def test_headers_come_first_then_parameters() -> None:
    params = {"__ow_headers": {"h": "1"}, "a": 1}
    message = missing_inputs_message(params, ["a", "b", "c"], ["h", "i", "j"])
    assert message == "missing header(s) 'i,j' and missing parameter(s) 'b,c'"


# --- bearer token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc.def"}, "abc.def"),
        ({"authorization": "Bearer "}, ""),
        ({"authorization": "bearer abc"}, None),
        ({"authorization": "Basic dXNlcjpwdw=="}, None),
        ({"authorization": 42}, None),
        ({"Authorization": "Bearer abc"}, None),  # OpenWhisk lower-cases header names
        ({}, None),
    ],
)
def test_bearer_token(headers: dict[str, object], expected: str | None) -> None:
    assert bearer_token({"__ow_headers": headers}) == expected


def test_bearer_token_without_headers_or_with_malformed_headers() -> None:
    assert bearer_token({}) is None
    assert bearer_token({"__ow_headers": "Bearer abc"}) is None
    assert bearer_token({"authorization": "Bearer abc"}) is None


# --- boolean parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("default", [True, False])
def test_boolean_param_absent_or_empty_gives_the_default(default: bool) -> None:
    assert boolean_param({}, "current", default) is default
    assert boolean_param({"current": ""}, "current", default) is default


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("false", False), ("TRUE", True),
     (" False ", False)],
)
def test_boolean_param_reads_json_and_query_forms(value: object, expected: bool) -> None:
    assert boolean_param({"current": value}, "current", not expected) is expected


@pytest.mark.parametrize("value", ["yes", "1", "0", 1, 0, None, "truthy", ["true"]])
def test_boolean_param_rejects_anything_else_naming_the_parameter(value: object) -> None:
    with pytest.raises(BadRequest, match="parameter 'current' must be true or false") as caught:
        boolean_param({"current": value}, "current", True)
    assert caught.value.status == 400


# --- redacted parameters --------------------------------------------------------------------


def test_redacted_params_hides_every_secret_and_keeps_the_rest() -> None:
    params = {
        "OAUTHS2S_CLIENT_ID": "client-id",
        "OAUTHS2S_CLIENT_SECRET": "p8e-the-secret",
        "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID",
        "IMS_ORG_ID": "org@AdobeOrg",
        "__ow_headers": {"authorization": "Bearer tok", "x-api-key": "k", "accept": "*/*"},
        "__ims_oauth_s2s": {"client_id": "c", "client_secret": "s", "org_id": "o",
                            "scopes": ["openid"]},
        "nested": [{"access_token": "t", "password": "p", "other": 1}],
    }
    shown = json.loads(redacted_params(params))
    assert shown == {
        "OAUTHS2S_CLIENT_ID": "client-id",
        "OAUTHS2S_CLIENT_SECRET": HIDDEN,
        "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid,AdobeID",
        "IMS_ORG_ID": "org@AdobeOrg",
        "__ow_headers": {"authorization": HIDDEN, "x-api-key": HIDDEN, "accept": "*/*"},
        "__ims_oauth_s2s": {"client_id": "c", "client_secret": HIDDEN, "org_id": "o",
                            "scopes": ["openid"]},
        "nested": [{"access_token": HIDDEN, "password": HIDDEN, "other": 1}],
    }
    assert params["OAUTHS2S_CLIENT_SECRET"] == "p8e-the-secret"  # the input is not changed
    assert params["__ow_headers"]["authorization"] == "Bearer tok"


def test_redacted_params_survives_values_json_cannot_encode() -> None:
    shown = redacted_params({"blob": b"\x00\x01", "when": {1, 2}, "text": "é"})
    decoded = json.loads(shown)
    assert decoded["blob"] == repr(b"\x00\x01")
    assert decoded["text"] == "é"


# --- the template's response shapes ---------------------------------------------------------


def test_error_response_has_the_template_shape() -> None:
    assert error_response(400, "missing parameter(s) 'a'") == {
        "error": {"statusCode": 400, "body": {"error": "missing parameter(s) 'a'"}}
    }


def test_error_response_carries_details_and_headers() -> None:
    response = error_response(429, "slow down", {"upstream": {"status": 429}},
                              {"Retry-After": "30"})
    assert response == {"error": {"statusCode": 429,
                                  "body": {"error": "slow down", "upstream": {"status": 429}},
                                  "headers": {"Retry-After": "30"}}}


def test_success_response_is_json_with_status_200() -> None:
    response = success_response({"a": 1})
    assert response == {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                        "body": {"a": 1}}
    response["headers"]["X"] = "y"  # callers may add headers without touching the shared ones
    assert success_response(None)["headers"] == {"Content-Type": "application/json"}
