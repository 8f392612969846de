"""API routes deployed against the controller stand-in and its API gateway (tests/standin/apis.py):
created after their actions, incremental, owned by the actions they call, pruned one operation
at a time, listed, shown by a dry run, undeployed first, and answered through the gateway."""

from __future__ import annotations

import pathlib

import pytest
import requests

import deploy as cli
from tests.deploy_support import FIXTURES, HELLO_ENV, copy_fixture
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn

APIMGMT = "/api/v1/web/whisk.system/apimgmt"
TENANT = AUTH.partition(":")[0]
KEY = AUTH.partition(":")[2]


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    """The api project over the hello code, as the working directory, targeting ``ow``."""
    root = tmp_path / "project"
    copy_fixture(FIXTURES / "hello_project", root)
    copy_fixture(FIXTURES / "api_project", root)
    env = {**HELLO_ENV, **ow.env()}
    (root / ".env").write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path))
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> list[str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == status, out + err
    assert KEY not in out + err
    return (out + err).splitlines()


def edit(project: pathlib.Path, old: str, new: str) -> None:
    manifest = project / "manifest.yaml"
    assert old in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(old, new))


def api_writes(ow: OpenWhiskStandIn) -> list[str]:
    """``POST createApi GET /books``, ``DELETE deleteApi GET /members`` …, in order."""
    found = []
    for call in ow.writes():
        if call.path.startswith(APIMGMT):
            action = call.path.rpartition("/")[2].partition(".")[0]
            route = (call.body["apidoc"] if call.body else call.query)
            found.append(f"{call.method} {action} " + (
                f"{route['gatewayMethod']} {route['gatewayPath']}" if call.body
                else f"{route['operation']} {route['relpath']}"))
    return found


def held(ow: OpenWhiskStandIn) -> dict[str, dict[str, str]]:
    """What the gateway holds: ``{"/club/books": {"get": "ns/club/books.json"}}``."""
    return {basepath.rstrip("/") + relpath: {
        verb: operation["x-openwhisk"]["url"].partition("/api/v1/web/")[2]
        for verb, operation in operations.items()}
        for basepath, api in ow.controller.gateway.tenants.get(TENANT, {}).items()
        for relpath, operations in api["doc"]["paths"].items()}


def gateway(ow: OpenWhiskStandIn, method: str, path: str) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.request(method, f"{ow.apihost}/api/{TENANT}{path}", timeout=10)


def test_a_deploy_creates_the_routes_after_their_actions_and_prints_their_urls(
        project, ow, capsys):
    lines = run(capsys, "deploy")

    created = [line.strip() for line in lines if line.startswith("  created")]
    assert created[-3:] == ["created   route GET /club/books (-> club/books, json)",
                            "created   route GET /club/books/{isbn} (-> club/book, http)",
                            "created   route POST /club/members (-> club/members, json)"]
    assert created[:4] == ["created   package club"] + [
        line for line in created if line.startswith("created   action")]
    assert ("Warning: club/members is not a web action (it has no web key), and API book-club "
            "can only call a web action: deployed as one (web: yes), as wskdeploy does") in lines
    assert f"  GET /club/books -> club/books: {ow.apihost}/api/{TENANT}/club/books" in lines
    assert held(ow) == {"/club/books": {"get": "ns/club/books.json"},
                        "/club/books/{isbn}": {"get": "ns/club/book.http"},
                        "/club/members": {"post": "ns/club/members.json"}}
    create = next(call for call in ow.writes() if call.path.endswith("createApi.http"))
    assert create.query == {"responsetype": "json", "accesstoken": "DUMMY TOKEN",
                            "spaceguid": TENANT}
    assert create.body["apidoc"]["action"] == {
        "name": "club/books", "namespace": "ns", "backendMethod": "GET",
        "backendUrl": f"{ow.apihost}/api/v1/web/ns/club/books.http", "authkey": AUTH}
    members = ow.view("actions", "club/members")
    assert {"key": "web-export", "value": True} in members["annotations"]


def test_the_gateway_answers_the_routes_by_running_their_actions(project, ow, capsys):
    ow.on_invoke("club/books", lambda args: {"name": args.get("name"),
                                             "path": args.get("__ow_path")})
    ow.on_invoke("club/book", lambda args: {"statusCode": 201,
                                            "body": {"path": args["__ow_path"]}})
    run(capsys, "deploy")

    assert gateway(ow, "GET", "/club/books").json() == {"name": "world", "path": ""}
    answer = gateway(ow, "GET", "/club/books/978-0596517748")
    assert (answer.status_code, answer.json()) == (201, {"path": "/club/books/978-0596517748"})
    assert gateway(ow, "DELETE", "/club/books").json() == {
        "status": 404, "message": "Error: Whoops. Verb not supported."}
    assert gateway(ow, "GET", "/shop").json() == {"status": 404, "message": "Error: Not found."}


def test_a_second_deploy_sends_nothing_and_a_change_sends_only_that_route(project, ow, capsys):
    run(capsys, "deploy")
    ow.clear_calls()
    lines = run(capsys, "deploy")

    assert ow.writes() == []
    assert "  unchanged route GET /club/books (-> club/books, json)" in lines

    edit(project, "books: {method: get}", "books: {method: get, response: text}")
    run(capsys, "deploy")
    assert api_writes(ow) == ["POST createApi GET /books"]
    assert held(ow)["/club/books"] == {"get": "ns/club/books.text"}


def test_a_dropped_route_is_pruned_alone_and_others_routes_are_spared(project, ow, capsys):
    run(capsys, "deploy")
    # Someone else's routes: one in our base path, one in another, to actions not ours.
    for basepath, relpath, action in (("/club", "/rules", "other/rules"),
                                      ("/shop", "/items", "club2/items")):
        ow.controller.gateway.createapi({"accesstoken": "t", "spaceguid": TENANT, "apidoc": {
            "namespace": "ns", "gatewayBasePath": basepath, "gatewayPath": relpath,
            "gatewayMethod": "GET", "action": {
                "name": action, "namespace": "ns", "backendMethod": "GET", "authkey": AUTH,
                "backendUrl": f"{ow.apihost}/api/v1/web/ns/{action}.http"}}}, "ns")
    edit(project, "            members:\n              members: {method: post}\n", "")
    ow.clear_calls()

    lines = run(capsys, "deploy")

    assert "  pruned    route POST /club/members" in lines
    assert api_writes(ow) == ["DELETE deleteApi POST /members"]
    deleted = next(call for call in ow.writes() if call.path.endswith("deleteApi.http"))
    assert (deleted.query["basepath"], deleted.query["relpath"]) == ("/club", "/members")
    assert set(held(ow)) == {"/club/books", "/club/books/{isbn}", "/club/rules", "/shop/items"}


def test_removing_apis_prunes_every_route_and_undeploy_removes_them_first(project, ow, capsys):
    run(capsys, "deploy")
    manifest = project / "manifest.yaml"
    manifest.write_text(manifest.read_text().partition("      apis:")[0])
    run(capsys, "deploy")
    assert held(ow) == {}

    (project / "manifest.yaml").write_text(
        (FIXTURES / "api_project" / "manifest.yaml").read_text())
    run(capsys, "deploy")
    lines = run(capsys, "undeploy", "--project", "book-club")
    assert lines[1:4] == ["  deleted route GET /club/books",
                          "  deleted route GET /club/books/{isbn}",
                          "  deleted route POST /club/members"]
    assert held(ow) == {}
    assert ow.names("actions") == []


def test_someone_elses_route_is_not_overwritten_without_adopt(project, ow, capsys):
    ow.controller.gateway.createapi({"accesstoken": "t", "spaceguid": TENANT, "apidoc": {
        "namespace": "ns", "gatewayBasePath": "/club", "gatewayPath": "/books",
        "gatewayMethod": "GET", "action": {
            "name": "other/books", "namespace": "ns", "backendMethod": "GET", "authkey": AUTH,
            "backendUrl": f"{ow.apihost}/api/v1/web/ns/other/books.http"}}}, "ns")

    lines = run(capsys, "deploy", status=1)

    assert any("route GET /club/books: it calls /ns/other/books, no action of this project; "
               "not overwritten" in line for line in lines)
    run(capsys, "deploy", "--adopt")
    assert held(ow)["/club/books"] == {"get": "ns/club/books.json"}


def test_list_shows_each_route_and_whether_it_matches(project, ow, capsys):
    run(capsys, "deploy")
    ow.controller.gateway.deleteapi({"accesstoken": "t", "spaceguid": TENANT,
                                     "basepath": "/club", "relpath": "/members"}, "ns")

    lines = run(capsys, "list")

    assert any(line.split() == ["route", "GET", "/club/books", "matches",
                                f"{ow.apihost}/api/{TENANT}/club/books"] for line in lines)
    assert any(line.split() == ["route", "POST", "/club/members", "missing"] for line in lines)


def test_a_dry_run_shows_createapi_with_the_key_masked_and_sends_nothing(project, ow, capsys):
    lines = run(capsys, "deploy", "--dry-run")

    assert ow.writes() == []
    assert (f"POST {ow.apihost}{APIMGMT}/createApi.http?responsetype=http&accesstoken="
            "%3CAPIGW_ACCESS_TOKEN%3E&spaceguid=%3Cthe+AUTH+key%27s+uuid%3E  "
            "(route GET /club/books/{isbn})") in lines
    assert '      "authkey": "<AUTH>"' in lines
    assert any("deleteApi.http?basepath=B&relpath=R&operation=M" in line for line in lines)
    undeploy = run(capsys, "undeploy", "--dry-run")
    assert (f"DELETE {ow.apihost}{APIMGMT}/deleteApi.http?basepath=%2Fclub&relpath=%2Fmembers"
            "&operation=POST  (route POST /club/members)") in undeploy


def test_a_server_without_the_gateway_is_found_before_anything_is_sent(project, ow, capsys):
    ow.controller.gateway.installed = False

    lines = run(capsys, "deploy", status=2)

    assert ow.writes() == []
    assert any("has no API gateway (the /whisk.system/apimgmt actions that wsk api calls "
               "answer 404), so the manifest's apis: cannot be deployed there" in line
               for line in lines)


def test_the_access_token_comes_from_wskprops(project, ow, capsys, tmp_path):
    (tmp_path / ".wskprops").write_text("APIGW_ACCESS_TOKEN=from-wskprops\n")
    run(capsys, "deploy")
    assert {call.query.get("accesstoken") for call in ow.calls
            if call.path.startswith(APIMGMT)} == {"from-wskprops"}


def test_the_access_token_in_env_file_wins_and_is_never_printed(project, ow, capsys,
                                                                  tmp_path):
    (tmp_path / ".wskprops").write_text("APIGW_ACCESS_TOKEN=from-wskprops\n")
    with (project / ".env").open("a") as env:
        env.write("APIGW_ACCESS_TOKEN=token-from-dotenv\n")
    lines = run(capsys, "deploy")
    assert {call.query.get("accesstoken") for call in ow.calls
            if call.path.startswith(APIMGMT)} == {"token-from-dotenv"}
    lines += run(capsys, "deploy", "--dry-run", "--force")
    assert not any("token-from-dotenv" in line for line in lines)


def test_the_apimgmt_actions_answer_as_openwhisk_does(ow):
    with requests.Session() as http:
        http.trust_env = False
        anonymous = http.post(f"{ow.apihost}{APIMGMT}/createApi.http", json={}, timeout=10)
        keyed = http.delete(f"{ow.apihost}{APIMGMT}/deleteApi.http", auth=tuple(
            AUTH.split(":", 1)), params={"basepath": "/x", "accesstoken": "t"}, timeout=10)
        final = http.get(f"{ow.apihost}{APIMGMT}/getApi.http", auth=tuple(AUTH.split(":", 1)),
                         params={"gwUrlV2": "http://evil"}, timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (
        502, {"error": "A valid auth key is required."})
    assert (keyed.status_code, keyed.json()) == (
        502, {"error": "API deletion failure: API '/x' does not exist."})
    assert final.status_code == 400
