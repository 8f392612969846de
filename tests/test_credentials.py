"""lib.credentials: the tutorial's inputs or App Builder's ``__ims_oauth_s2s``, checked."""

from __future__ import annotations

from typing import Any

import pytest

from lib._redact import HIDDEN, known_secrets
from lib.credentials import identity_from_params
from lib.errors import BadRequest
from tests.action_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ORG_ID,
    SCOPES,
    action_params,
    app_builder_params,
)

ALL_INPUTS = ("IMS_ORG_ID,OAUTHS2S_CLIENT_ID,OAUTHS2S_CLIENT_SECRET,"
              "OAUTHS2S_CECREDENTIALS_METASCOPES")


def bad_request(params: dict[str, Any]) -> str:
    with pytest.raises(BadRequest) as caught:
        identity_from_params(params)
    assert caught.value.status == 400
    return caught.value.message


def test_scopes_are_split_trimmed_and_blanks_dropped() -> None:
    params = action_params(OAUTHS2S_CECREDENTIALS_METASCOPES=" openid , AdobeID,,read_x ,")
    assert identity_from_params(params).credentials.scopes == ("openid", "AdobeID", "read_x")


def test_the_secret_becomes_a_known_secret() -> None:
    secret = "p8e-only-seen-in-this-test-0001"
    identity_from_params(action_params(OAUTHS2S_CLIENT_SECRET=secret))
    assert known_secrets.mask(f"x{secret}x") == f"x{HIDDEN}x"


def injected(scopes: object) -> dict[str, Any]:
    params = app_builder_params()
    params["__ims_oauth_s2s"]["scopes"] = scopes
    return params


@pytest.mark.parametrize(
    "params",
    [action_params(), injected(list(SCOPES)), injected(",".join(SCOPES)), injected(SCOPES)],
    ids=["tutorial inputs", "injected list", "injected string", "injected tuple"],
)
def test_both_credential_sources(params: dict[str, Any]) -> None:
    identity = identity_from_params(params)
    assert identity.org_id == ORG_ID
    assert identity.credentials.client_id == CLIENT_ID
    assert identity.credentials.client_secret == CLIENT_SECRET
    assert identity.credentials.scopes == SCOPES


def test_ims_org_id_input_wins_over_the_injected_org() -> None:
    params = app_builder_params(IMS_ORG_ID="OTHERORG@AdobeOrg")
    assert identity_from_params(params).org_id == "OTHERORG@AdobeOrg"


def test_injected_object_without_org_id_needs_ims_org_id() -> None:
    params = app_builder_params()
    del params["__ims_oauth_s2s"]["org_id"]
    assert bad_request(params) == "missing parameter(s) 'IMS_ORG_ID'"
    params["IMS_ORG_ID"] = ORG_ID
    assert identity_from_params(params).org_id == ORG_ID


def test_tutorial_inputs_take_precedence_over_the_injected_object() -> None:
    params = action_params(__ims_oauth_s2s={"client_id": "injected", "client_secret": "other-s",
                                            "org_id": "INJ@AdobeOrg", "scopes": ["x"]})
    identity = identity_from_params(params)
    assert identity.credentials.client_id == CLIENT_ID
    assert identity.org_id == ORG_ID


def test_any_tutorial_input_means_the_tutorial_inputs_are_used() -> None:
    params = app_builder_params(OAUTHS2S_CLIENT_ID=CLIENT_ID)
    assert bad_request(params) == (
        "missing parameter(s) 'OAUTHS2S_CLIENT_SECRET,OAUTHS2S_CECREDENTIALS_METASCOPES'")


def test_all_missing_are_named_in_one_message() -> None:
    assert bad_request({}) == f"missing parameter(s) '{ALL_INPUTS}'"
    assert bad_request({"__ims_oauth_s2s": None}) == f"missing parameter(s) '{ALL_INPUTS}'"


def test_two_missing_inputs_are_named_in_one_message() -> None:
    params = action_params(IMS_ORG_ID="")
    del params["OAUTHS2S_CLIENT_SECRET"]
    assert bad_request(params) == "missing parameter(s) 'IMS_ORG_ID,OAUTHS2S_CLIENT_SECRET'"


def test_missing_injected_fields_are_named_by_their_path() -> None:
    params = {"__ims_oauth_s2s": {"client_id": CLIENT_ID, "client_secret": "", "scopes": []}}
    assert bad_request(params) == (
        "missing parameter(s) 'IMS_ORG_ID,__ims_oauth_s2s.client_secret'")


@pytest.mark.parametrize("injected", ["client_id=x", ["client_id"], 42])
def test_an_injected_value_that_is_not_an_object(injected: object) -> None:
    assert bad_request({"__ims_oauth_s2s": injected, "IMS_ORG_ID": ORG_ID}) == (
        "parameter '__ims_oauth_s2s' must be an object")


@pytest.mark.parametrize(
    ("name", "value"),
    [("OAUTHS2S_CLIENT_ID", 1234), ("OAUTHS2S_CLIENT_ID", "id with space"),
     ("OAUTHS2S_CLIENT_ID", "id\r\nX-Injected: 1"), ("IMS_ORG_ID", ["org"]),
     ("IMS_ORG_ID", "org\n"), ("IMS_ORG_ID", "orgé@AdobeOrg"), ("OAUTHS2S_CLIENT_ID", None)],
)
def test_ids_must_be_header_safe_strings(name: str, value: object) -> None:
    assert bad_request(action_params(**{name: value})) == (
        f"parameter '{name}' must be a string of visible ASCII characters")


@pytest.mark.parametrize("value", [12345678, {"s": "x"}, None, False])
def test_the_secret_must_be_a_string(value: object) -> None:
    assert bad_request(action_params(OAUTHS2S_CLIENT_SECRET=value)) == (
        "parameter 'OAUTHS2S_CLIENT_SECRET' must be a string")


@pytest.mark.parametrize("value", [42, ["openid", 3], {"openid": True}, None])
def test_scopes_must_be_text_or_a_list_of_text(value: object) -> None:
    assert bad_request(action_params(OAUTHS2S_CECREDENTIALS_METASCOPES=value)) == (
        "parameter 'OAUTHS2S_CECREDENTIALS_METASCOPES' must be a comma-separated string or a "
        "list of strings")


@pytest.mark.parametrize("value", [",", " , ,", ["", " "]])
def test_scopes_must_name_at_least_one(value: object) -> None:
    assert bad_request(action_params(OAUTHS2S_CECREDENTIALS_METASCOPES=value)) == (
        "parameter 'OAUTHS2S_CECREDENTIALS_METASCOPES' names no scope")


def test_wrong_injected_types_are_named_by_their_path() -> None:
    params = app_builder_params()
    params["__ims_oauth_s2s"]["scopes"] = 7
    assert bad_request(params) == (
        "parameter '__ims_oauth_s2s.scopes' must be a comma-separated string or a list of "
        "strings")
    params = app_builder_params()
    params["__ims_oauth_s2s"]["client_id"] = 7
    assert bad_request(params) == (
        "parameter '__ims_oauth_s2s.client_id' must be a string of visible ASCII characters")


def test_error_messages_never_carry_the_secret() -> None:
    for params in (action_params(OAUTHS2S_CLIENT_ID=""), action_params(IMS_ORG_ID="a b"),
                   action_params(OAUTHS2S_CECREDENTIALS_METASCOPES=5)):
        assert CLIENT_SECRET not in bad_request(params)
