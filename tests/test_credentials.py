"""lib.credentials: the tutorial's inputs or App Builder's ``__ims_oauth_s2s``, checked."""

from __future__ import annotations

from typing import Any

import pytest

from lib.credentials import identity_from_params
from lib.errors import BadRequest
from lib.redact import HIDDEN, known_secrets
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


def refused(names: str, source: str = "__ims_oauth_s2s") -> str:
    return (f"parameter(s) '{names}' not allowed: the deployment supplies the credentials and "
            f"org through {source}")


def test_beside_the_injected_object_a_caller_cannot_choose_the_org() -> None:
    params = app_builder_params(IMS_ORG_ID="OTHERORG@AdobeOrg")
    assert bad_request(params) == refused("IMS_ORG_ID")


def test_injected_object_without_org_id_needs_ims_org_id_from_the_environment() -> None:
    params = app_builder_params()
    del params["__ims_oauth_s2s"]["org_id"]
    assert bad_request(params) == "missing parameter(s) 'IMS_ORG_ID'"
    assert bad_request({**params, "IMS_ORG_ID": ORG_ID}) == refused("IMS_ORG_ID")
    assert identity_from_params(params, environ={"IMS_ORG_ID": ORG_ID}).org_id == ORG_ID


def test_the_tutorial_inputs_beside_the_injected_object_are_refused() -> None:
    params = action_params(__ims_oauth_s2s={"client_id": "injected", "client_secret": "other-s",
                                            "org_id": "INJ@AdobeOrg", "scopes": ["x"]})
    assert bad_request(params) == refused(ALL_INPUTS)


@pytest.mark.parametrize(("name", "value"), [
    ("OAUTHS2S_CLIENT_ID", "attacker-client"), ("OAUTHS2S_CLIENT_SECRET", "guess-0001"),
    ("OAUTHS2S_CECREDENTIALS_METASCOPES", "openid,AdobeID,admin"), ("IMS_ORG_ID", ORG_ID),
    ("OAUTHS2S_CLIENT_SECRET", ""), ("IMS_ORG_ID", None)])
def test_beside_the_injected_object_no_identity_parameter_is_allowed(name: str,
                                                                     value: object) -> None:
    """Adding or replacing any one field, even with the same value or an empty one, is a 400."""
    assert bad_request(app_builder_params(**{name: value})) == refused(name)


def test_any_tutorial_input_beside_the_injected_object_is_named() -> None:
    params = app_builder_params(OAUTHS2S_CLIENT_ID=CLIENT_ID, OAUTHS2S_CLIENT_SECRET="guess")
    assert bad_request(params) == refused("OAUTHS2S_CLIENT_ID,OAUTHS2S_CLIENT_SECRET")


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


# --- the identity from the environment (OpenWhisk init parameters) ---------------------------

ENVIRONMENT = {"OAUTHS2S_CLIENT_ID": CLIENT_ID, "OAUTHS2S_CLIENT_SECRET": CLIENT_SECRET,
               "OAUTHS2S_CECREDENTIALS_METASCOPES": ",".join(SCOPES), "IMS_ORG_ID": ORG_ID}
FROM_ENVIRONMENT = "the environment (init parameters)"


def test_the_identity_from_the_environment_alone() -> None:
    identity = identity_from_params({"current": "true"}, environ=ENVIRONMENT)
    assert identity.credentials == (CLIENT_ID, CLIENT_SECRET, SCOPES)
    assert identity.org_id == ORG_ID


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    assert identity_from_params({}).org_id == ORG_ID
    assert bad_request({"IMS_ORG_ID": "OTHER@AdobeOrg"}) == refused("IMS_ORG_ID",
                                                                    FROM_ENVIRONMENT)


@pytest.mark.parametrize("name", ["OAUTHS2S_CLIENT_ID", "OAUTHS2S_CLIENT_SECRET",
                                  "OAUTHS2S_CECREDENTIALS_METASCOPES", "IMS_ORG_ID"])
def test_beside_the_environment_no_identity_parameter_is_allowed(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        identity_from_params({name: "caller-value"}, environ=ENVIRONMENT)
    assert caught.value.message == refused(name, FROM_ENVIRONMENT)


def test_one_field_in_the_environment_is_enough_to_refuse_parameters() -> None:
    """A deployment that puts only the secret in the environment must put the rest there too:
    otherwise a field it forgot could be added by any caller."""
    with pytest.raises(BadRequest) as caught:
        identity_from_params(action_params(), environ={"OAUTHS2S_CLIENT_SECRET": "from-env-1"})
    assert caught.value.message == refused(ALL_INPUTS, FROM_ENVIRONMENT)
    with pytest.raises(BadRequest) as caught:
        identity_from_params({}, environ={"OAUTHS2S_CLIENT_SECRET": "from-env-1"})
    assert caught.value.message == (
        "missing parameter(s) 'IMS_ORG_ID,OAUTHS2S_CLIENT_ID,OAUTHS2S_CECREDENTIALS_METASCOPES'")


def test_the_environment_wins_over_the_injected_object_field_by_field() -> None:
    """App Builder's object with the org replaced by an init parameter."""
    identity = identity_from_params(app_builder_params(),
                                    environ={"IMS_ORG_ID": "INITORG@AdobeOrg"})
    assert identity.org_id == "INITORG@AdobeOrg"
    assert identity.credentials.client_secret == CLIENT_SECRET
    caller_object = {"__ims_oauth_s2s": {"client_id": "x", "client_secret": "guess-0002",
                                         "org_id": "CALLER@AdobeOrg", "scopes": ["admin"]}}
    identity = identity_from_params(caller_object, environ=ENVIRONMENT)
    assert identity == identity_from_params({}, environ=ENVIRONMENT)


def test_beside_both_sources_the_message_names_both() -> None:
    assert bad_request_with(app_builder_params(IMS_ORG_ID=ORG_ID), {"IMS_ORG_ID": ORG_ID}) == (
        refused("IMS_ORG_ID", f"{FROM_ENVIRONMENT} and __ims_oauth_s2s"))


def bad_request_with(params: dict[str, Any], environ: dict[str, str]) -> str:
    with pytest.raises(BadRequest) as caught:
        identity_from_params(params, environ=environ)
    return caught.value.message


def test_an_empty_environment_variable_counts_as_unset() -> None:
    environ = dict.fromkeys(ENVIRONMENT, "")
    assert identity_from_params(action_params(), environ=environ).org_id == ORG_ID


def test_a_bad_value_in_the_environment_is_named() -> None:
    assert bad_request_with({}, {**ENVIRONMENT, "IMS_ORG_ID": "org with space"}) == (
        "parameter 'IMS_ORG_ID' must be a string of visible ASCII characters")


def test_the_tutorial_inputs_alone_are_still_the_identity() -> None:
    """No environment and no injected object: the parameters, which `final` protects."""
    assert identity_from_params(action_params(), environ={}).org_id == ORG_ID


# --- text that cannot be encoded -------------------------------------------------------------

LONE = "\ud800"


@pytest.mark.parametrize(("params", "path"), [
    (action_params(OAUTHS2S_CLIENT_SECRET=f"p8e-{LONE}-secret"), "OAUTHS2S_CLIENT_SECRET"),
    (action_params(OAUTHS2S_CECREDENTIALS_METASCOPES=f"openid,{LONE}"),
     "OAUTHS2S_CECREDENTIALS_METASCOPES"),
    (injected(["openid", f"x{LONE}"]), "__ims_oauth_s2s.scopes"),
    (injected("openid,\udfff"), "__ims_oauth_s2s.scopes"),
])
def test_a_lone_surrogate_is_a_400_naming_the_parameter(params: dict[str, Any],
                                                         path: str) -> None:
    assert bad_request(params) == (
        f"parameter '{path}' must be valid Unicode text (it holds a lone surrogate)")


def test_a_lone_surrogate_in_the_injected_secret() -> None:
    params = app_builder_params()
    params["__ims_oauth_s2s"]["client_secret"] = LONE * 8
    assert bad_request(params) == ("parameter '__ims_oauth_s2s.client_secret' must be valid "
                                   "Unicode text (it holds a lone surrogate)")


def test_paired_surrogates_and_other_unicode_are_fine() -> None:
    secret = "p8e-é€𝄞-secret"
    assert identity_from_params(action_params(OAUTHS2S_CLIENT_SECRET=secret),
                                environ={}).credentials.client_secret == secret


def test_scopes_given_as_a_list_init_parameter_arrive_as_json() -> None:
    """The runtime exports an init parameter that is not a string as compact JSON."""
    environ = {**ENVIRONMENT, "OAUTHS2S_CECREDENTIALS_METASCOPES": '["openid","AdobeID"]'}
    assert identity_from_params({}, environ=environ).credentials.scopes == ("openid", "AdobeID")
    environ["OAUTHS2S_CECREDENTIALS_METASCOPES"] = '["openid", 3]'
    assert bad_request_with({}, environ) == (
        "parameter 'OAUTHS2S_CECREDENTIALS_METASCOPES' must be a comma-separated string or a "
        "list of strings")
