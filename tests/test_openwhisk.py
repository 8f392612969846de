"""The OpenWhisk client: where credentials come from, the exact REST calls, and failures."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
import responses
from responses import matchers

from lib.http import RetryPolicy
from tests.deploy_support import closed_port, loopback_server
from tools.deploy.client import RETRIES, Call, Client, Entity, OpenWhiskError, put
from tools.deploy.credentials import Credentials, CredentialsError, find_credentials

AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4Vr"
KEY = AUTH.partition(":")[2]
HOST = "https://ow.test"
FAST = RETRIES._replace(retries=3, backoff=0.001, max_backoff=0.001)


@pytest.fixture(autouse=True)
def no_home_wskprops(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """~/.wskprops is the test's own empty home, never the user's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()


def wskprops(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(text)
    return path


def test_flags_alone_are_enough() -> None:
    found = find_credentials({}, apihost="ow.test", auth=AUTH, namespace="ns")
    assert found == Credentials("https://ow.test", AUTH, "ns",
                                "--apihost, --auth, --namespace")
    assert found.basic_auth == ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", KEY)


def test_app_builder_variables_with_adobes_host_by_default() -> None:
    found = find_credentials({"AIO_RUNTIME_AUTH": AUTH, "AIO_RUNTIME_NAMESPACE": "12-proj"})
    assert (found.apihost, found.auth, found.namespace) == (
        "https://adobeioruntime.net", AUTH, "12-proj")
    assert found.source == "AIO_RUNTIME_* (shell or .env)"


def test_wskprops_in_home(tmp_path: pathlib.Path) -> None:
    wskprops(tmp_path / "home" / ".wskprops",
             f"# wsk CLI settings\nAPIHOST=localhost:3233\nAUTH={AUTH}\n")
    found = find_credentials({})
    assert (found.apihost, found.namespace) == ("https://localhost:3233", "_")
    assert found.source == str(tmp_path / "home" / ".wskprops")


def test_wsk_config_file_replaces_home_wskprops(tmp_path: pathlib.Path) -> None:
    wskprops(tmp_path / "home" / ".wskprops", f"APIHOST=home.test\nAUTH={AUTH}\n")
    other = wskprops(tmp_path / "other.props",
                     f"APIHOST=http://127.0.0.1:3233/\nAUTH={AUTH}\nNAMESPACE=guest\n")
    found = find_credentials({"WSK_CONFIG_FILE": str(other)})
    assert (found.apihost, found.namespace) == ("http://127.0.0.1:3233", "guest")


def test_app_builder_variables_win_over_wskprops_as_a_whole(tmp_path: pathlib.Path) -> None:
    wskprops(tmp_path / "home" / ".wskprops", f"APIHOST=home.test\nAUTH={AUTH}\nNAMESPACE=h\n")
    found = find_credentials({"AIO_RUNTIME_AUTH": "aio:key"})
    # The AIO key is never paired with the host from .wskprops.
    assert (found.apihost, found.auth, found.namespace) == (
        "https://adobeioruntime.net", "aio:key", "_")


def test_flags_override_single_fields(tmp_path: pathlib.Path) -> None:
    wskprops(tmp_path / "home" / ".wskprops", f"APIHOST=home.test\nAUTH={AUTH}\nNAMESPACE=h\n")
    found = find_credentials({}, namespace="flagged")
    assert (found.apihost, found.namespace) == ("https://home.test", "flagged")
    assert found.source == f"--namespace, {tmp_path / 'home' / '.wskprops'}"


@pytest.mark.parametrize(("env", "flags", "message"), [
    ({}, {}, "no OpenWhisk AUTH key found (looked in nowhere; pass --apihost/--auth"),
    ({}, {"auth": AUTH}, "no OpenWhisk APIHOST found"),
    ({"AIO_RUNTIME_NAMESPACE": "ns"}, {}, "AUTH key found (looked in AIO_RUNTIME_*"),
    ({}, {"apihost": "h.test", "auth": KEY}, "is not of the form uuid:key"),
    ({}, {"apihost": "ftp://h.test", "auth": AUTH}, "is not a host or an http(s) URL"),
    ({}, {"apihost": "https://h.test/api", "auth": AUTH}, "is not a host"),
    ({}, {"apihost": "h.test:port", "auth": AUTH}, "invalid port"),
    ({"WSK_CONFIG_FILE": "/nonexistent/props"}, {}, "WSK_CONFIG_FILE names /nonexistent/props"),
    ({}, {"apihost": f"https://{AUTH}@h.test", "auth": AUTH}, "APIHOST <hidden> is not a host"),
    ({}, {"apihost": f"https://{AUTH}@h.test:port", "auth": AUTH}, "<hidden> has an invalid port"),
    ({}, {"apihost": "h.test", "auth": AUTH + "\u20ac"}, "has characters other than ASCII"),
])
def test_credential_faults_say_what_is_missing_without_the_key(
        env: dict[str, str], flags: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        find_credentials(env, **flags)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)


def client(policy: RetryPolicy = FAST) -> Client:
    return Client(Credentials(HOST, AUTH, "ns", "test"), policy=policy)


BASIC = "Basic " + base64.b64encode(AUTH.encode()).decode()


@responses.activate
def test_a_put_is_sent_with_overwrite_basic_auth_and_the_json_body() -> None:
    body = {"parameters": [{"key": "a", "value": 1}], "annotations": [], "publish": False}
    responses.put(
        f"{HOST}/api/v1/namespaces/ns/packages/my%20pkg",
        match=[matchers.query_param_matcher({"overwrite": "true"}),
               matchers.header_matcher({"Authorization": BASIC, "Accept": "application/json"}),
               matchers.json_params_matcher(body)],
        json={"name": "my pkg"},
    )

    answer = client().send(put(Entity("packages", "my pkg"), "ns", body), "package my pkg")

    assert answer.status == 200


def test_entities_address_actions_inside_packages() -> None:
    entity = Entity("actions", "dx-excshell-1/generic")
    assert str(entity) == "action dx-excshell-1/generic"
    assert entity.path("_") == "/api/v1/namespaces/_/actions/dx-excshell-1/generic"
    assert put(entity, "ns", {}).target() == (
        "/api/v1/namespaces/ns/actions/dx-excshell-1/generic?overwrite=true")


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
def test_refusals_carry_the_status_error_and_code(status: int) -> None:
    responses.put(f"{HOST}/api/v1/namespaces/ns/packages/p",
                  json={"error": f"refused, key was {KEY}", "code": "4711abc"}, status=status)

    with pytest.raises(OpenWhiskError) as caught:
        client().send(put(Entity("packages", "p"), "ns", {}), "package p")

    error = caught.value
    assert (error.what, error.status, error.code) == ("package p", status, "4711abc")
    assert error.error == "refused, key was <hidden>"
    assert str(error) == f"package p: HTTP {status}: refused, key was <hidden> (code 4711abc)"
    assert len(responses.calls) == 1  # not a status lib.http retries


@responses.activate
def test_an_echoed_authorization_header_is_masked() -> None:
    basic = base64.b64encode(AUTH.encode()).decode()
    responses.put(f"{HOST}/api/v1/namespaces/ns/packages/p",
                  json={"error": f"bad header Basic {basic}"}, status=400)
    with pytest.raises(OpenWhiskError) as caught:
        client().send(put(Entity("packages", "p"), "ns", {}), "package p")
    assert caught.value.error == "bad header Basic <hidden>"


@responses.activate
def test_a_body_that_is_not_json_is_quoted() -> None:
    responses.put(f"{HOST}/api/v1/namespaces/ns/packages/p", body="<html>Bad Gateway</html>",
                  status=413)
    with pytest.raises(OpenWhiskError, match=r"HTTP 413: <html>Bad Gateway</html>$"):
        client().send(put(Entity("packages", "p"), "ns", {}), "package p")


@responses.activate
def test_transient_answers_are_retried() -> None:
    url = f"{HOST}/api/v1/namespaces/ns/packages/p"
    responses.put(url, status=500, json={"error": "internal error"})
    responses.put(url, status=503, json={"error": "busy"})
    responses.put(url, status=429, json={"error": "throttled"}, headers={"Retry-After": "0"})
    responses.put(url, status=200, json={})

    answer = client().send(put(Entity("packages", "p"), "ns", {}), "package p")

    assert answer.status == 200
    assert len(responses.calls) == 4


@responses.activate
def test_delete_tells_deleted_from_already_gone() -> None:
    responses.delete(f"{HOST}/api/v1/namespaces/ns/actions/p/a", status=200, json={})
    responses.delete(f"{HOST}/api/v1/namespaces/ns/packages/p", status=404,
                     json={"error": "The requested resource does not exist.", "code": "x"})
    responses.delete(f"{HOST}/api/v1/namespaces/ns/packages/q", status=409,
                     json={"error": "Package not empty (contains 1 entity)", "code": "y"})

    assert client().delete(Entity("actions", "p/a"), "ns") is True
    assert client().delete(Entity("packages", "p"), "ns") is False
    with pytest.raises(OpenWhiskError, match="package q: HTTP 409: Package not empty"):
        client().delete(Entity("packages", "q"), "ns")


@responses.activate
def test_kinds_come_from_the_runtimes_map() -> None:
    responses.get(f"{HOST}/", json={"runtimes": {
        "python": [{"kind": "python:3.10", "default": True}, {"kind": "python:3.11"}],
        "nodejs": [{"kind": "nodejs:20"}]}})
    assert client().server().kinds == {"python:3.10", "python:3.11", "nodejs:20"}


@responses.activate
def test_a_server_without_runtimes_is_not_openwhisk() -> None:
    responses.get(f"{HOST}/", body="<html>hello</html>")
    with pytest.raises(OpenWhiskError, match="no 'runtimes' map"):
        client().server()


@responses.activate
def test_the_own_namespace_is_the_first_listed() -> None:
    responses.get(f"{HOST}/api/v1/namespaces", json=["12345-proj-stage"],
                  match=[matchers.header_matcher({"Authorization": BASIC})])
    assert client().namespace() == "12345-proj-stage"


def test_an_unreachable_server_is_an_error_without_status() -> None:
    port = closed_port()
    unreachable = Client(Credentials(f"http://127.0.0.1:{port}", AUTH, "ns", "test"),
                         policy=FAST)

    with pytest.raises(OpenWhiskError) as caught:
        unreachable.send(Call("GET", "/"), "checking the server")

    assert caught.value.status is None
    assert str(caught.value) == (f"checking the server: could not connect to OpenWhisk "
                                 f"at http://127.0.0.1:{port}")


def test_a_redirect_is_not_followed_so_the_key_stays_with_the_host() -> None:
    with loopback_server(200) as elsewhere, loopback_server(
            307, {"Location": elsewhere.url + "/steal"}) as server:
        redirected = Client(Credentials(server.url, AUTH, "ns", "test"), policy=FAST)

        with pytest.raises(OpenWhiskError) as caught:
            redirected.send(put(Entity("packages", "p"), "ns", {}), "package p")

    assert caught.value.status == 307
    assert [request[:2] for request in server.requests] == [
        ("PUT", "/api/v1/namespaces/ns/packages/p?overwrite=true")]
    assert server.requests[0][2]["authorization"] == BASIC
    assert elsewhere.requests == []


def test_credentials_do_not_show_the_key_in_their_repr() -> None:
    assert KEY not in repr(Credentials(HOST, AUTH, "ns", "test"))
    assert json.dumps(repr(client().credentials)).count(KEY) == 0
