"""The OpenWhisk stand-in (tests/openwhisk_standin.py, tests/standin/) through real HTTP: each
behaviour a deploy test relies on, the controller's quirks included (what it gives back differs
from what it was sent; see the stand-in's docstring)."""

from __future__ import annotations

import base64
import io
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.deploy_support import HELLO_ENV, make_project
from tests.openwhisk_standin import AUTH, NAMESPACE, OpenWhiskStandIn, Reject, as_dict

Rest = Callable[..., requests.Response]
CODE = base64.b64encode(b"PK\x03\x04 a zip, as far as the server cares").decode()
FEED = "/whisk.system/alarms/alarm"


@pytest.fixture
def ow() -> Iterator[OpenWhiskStandIn]:
    with OpenWhiskStandIn() as standin:
        yield standin


@pytest.fixture
def rest(ow: OpenWhiskStandIn) -> Iterator[Rest]:
    """``rest(method, "packages/demo", json=…, **query)`` in the caller's namespace (``_``)."""
    session = requests.Session()
    session.auth = tuple(AUTH.split(":", 1))

    def call(method: str, path: str, json: Any = None, **query: Any) -> requests.Response:
        where = path.lstrip("/") if path.startswith("/") else f"_/{path}"  # "/ns/…": absolute
        return session.request(method, f"{ow.apihost}/api/v1/namespaces/{where}", json=json,
                               params=query, timeout=10)

    yield call
    session.close()


def kv(**values: Any) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in values.items()]


def python(**extra: Any) -> dict[str, Any]:
    return {"exec": {"kind": "python:3.11", "code": CODE, "main": "main"}, **extra}


def error(answer: requests.Response) -> str:
    body = answer.json()
    assert set(body) == {"error", "code"}
    assert body["code"]
    return body["error"]


def setup_demo(rest: Rest, **package: Any) -> None:
    assert rest("PUT", "packages/demo", {"parameters": kv(REGION="eu"), **package}).ok
    assert rest("PUT", "actions/demo/hello", python(parameters=kv(name="world"))).ok


# --- the server, credentials and the record of calls ---------------------------------------


def test_root_lists_the_runtimes_without_credentials(ow: OpenWhiskStandIn) -> None:
    answer = requests.get(ow.apihost + "/", timeout=10)
    kinds = {family: [entry["kind"] for entry in entries]
             for family, entries in answer.json()["runtimes"].items()}
    assert kinds == {"python": ["python:3.10", "python:3.11"],
                     "nodejs": ["nodejs:20", "nodejs:18"], "java": ["java:8"]}
    limits = answer.json()["limits"]
    assert (limits["max_action_duration"], limits["max_action_memory"]) == (300_000, 512 * 2**20)


def test_the_runtimes_can_be_chosen() -> None:
    with OpenWhiskStandIn(kinds={"python": ["python:3.12"]}) as ow:
        answer = requests.get(ow.apihost + "/", timeout=10).json()
    assert answer["runtimes"] == {"python": [{"kind": "python:3.12", "default": True,
                                              "deprecated": False}]}


def test_namespaces_names_the_callers_own_and_underscore_means_it(rest: Rest) -> None:
    assert rest("GET", "/").json() == [NAMESPACE]
    assert rest("PUT", "/ns/packages/demo", {}).ok
    assert rest("GET", "packages/demo").json()["namespace"] == NAMESPACE


@pytest.mark.parametrize("auth", [None, ("0b6a0c7e-9d3f-4a51-8f7e-2d1c4b5a6e70", "wrong")])
def test_missing_or_wrong_credentials_answer_401(ow: OpenWhiskStandIn, auth: Any) -> None:
    answer = requests.put(f"{ow.apihost}/api/v1/namespaces/_/packages/demo", json={}, auth=auth,
                          timeout=10)
    assert answer.status_code == 401
    assert error(answer) == "The supplied authentication is invalid."
    assert ow.packages.keys() == {"whisk.system/alarms"}
    assert [call.brief for call in ow.calls] == ["PUT packages/demo"]  # recorded all the same


def test_every_request_is_recorded_in_order(ow: OpenWhiskStandIn, rest: Rest) -> None:
    rest("PUT", "packages/demo", {"publish": False}, overwrite="true")
    rest("PUT", "actions/demo/my%20action", python())
    rest("GET", "actions", limit=5)
    rest("DELETE", "actions/demo/my%20action")

    first = ow.calls[0]
    assert (first.method, first.path, first.query, first.body) == (
        "PUT", "/api/v1/namespaces/_/packages/demo", {"overwrite": "true"}, {"publish": False})
    assert ow.calls[1].path == "/api/v1/namespaces/_/actions/demo/my%20action"  # as sent
    assert (ow.calls[1].collection, ow.calls[1].name) == ("actions", "demo/my action")
    assert [call.brief for call in ow.calls] == [
        "PUT packages/demo", "PUT actions/demo/my action", "GET actions",
        "DELETE actions/demo/my action"]
    assert [call.brief for call in ow.writes()] == [
        "PUT packages/demo", "PUT actions/demo/my action", "DELETE actions/demo/my action"]
    assert [call.method for call in ow.calls_to("actions")] == ["PUT", "GET", "DELETE"]
    assert len(ow.calls_to("actions", "GET")) == 1
    ow.clear_calls()
    assert ow.calls == []


def test_an_unknown_entity_answers_404(rest: Rest) -> None:
    for path in ("packages/nope", "actions/nope", "actions/nope/nope", "triggers/t", "rules/r"):
        answer = rest("GET", path)
        assert answer.status_code == 404
        assert error(answer) == "The requested resource does not exist."
    assert rest("DELETE", "packages/nope").status_code == 404
    assert rest("PUT", "actions/nope/hello", python()).status_code == 404  # no such package


def test_a_name_openwhisk_would_not_take_is_refused(rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    answer = rest("PUT", "actions/demo/h%C3%A9llo", python())  # Java's \w is ASCII
    assert (answer.status_code, error(answer)) == (
        400, "The name of the entity contains illegal characters.")


def test_put_without_overwrite_refuses_an_existing_entity(rest: Rest) -> None:
    assert rest("PUT", "packages/demo", {}).ok
    answer = rest("PUT", "packages/demo", {})
    assert answer.status_code == 409
    assert error(answer) == "resource already exists"
    assert rest("PUT", "packages/demo", {}, overwrite="true").json()["version"] == "0.0.2"


def test_triggers_rules_packages_and_actions_share_one_name_space(rest: Rest) -> None:
    assert rest("PUT", "packages/same", {}).ok
    for path, body in (("triggers/same", {}), ("actions/same", python())):
        answer = rest("PUT", path, body, overwrite="true")
        assert answer.status_code == 409
        assert error(answer) == "Resource by this name exists but is not in this collection."


def test_another_namespace_can_be_read_and_invoked_but_not_written(rest: Rest) -> None:
    assert rest("GET", "/whisk.system/packages/alarms").ok
    answer = rest("PUT", "/whisk.system/packages/mine", {})
    assert answer.status_code == 403
    assert error(answer) == ("The supplied authentication is not authorized to access this "
                             "resource.")


def test_a_body_that_is_not_json_is_refused(ow: OpenWhiskStandIn) -> None:
    answer = requests.put(f"{ow.apihost}/api/v1/namespaces/_/packages/demo", data=b"{nope",
                          auth=tuple(AUTH.split(":", 1)), timeout=10)
    assert answer.status_code == 400
    assert error(answer).startswith("The request content was malformed:")
    assert ow.calls[0].body == "{nope"


# --- packages and bindings -----------------------------------------------------------------


def test_a_package_update_replaces_its_parameters_and_annotations(rest: Rest) -> None:
    rest("PUT", "packages/demo", {"parameters": kv(A=1, B=2), "annotations": kv(x=1)})
    rest("PUT", "packages/demo", {"parameters": kv(B=3)}, overwrite="true")

    package = rest("GET", "packages/demo").json()
    assert package["parameters"] == kv(B=3)
    assert package["annotations"] == kv(x=1)  # not sent: kept
    assert (package["binding"], package["publish"], package["actions"]) == ({}, False, [])
    rest("PUT", "packages/demo", {"annotations": []}, overwrite="true")
    assert rest("GET", "packages/demo").json()["annotations"] == []


def test_a_package_lists_the_actions_it_holds(rest: Rest) -> None:
    setup_demo(rest)
    package = rest("GET", "packages/demo").json()
    assert [(a["name"], as_dict(a["annotations"])["exec"]) for a in package["actions"]] == [
        ("hello", "python:3.11")]
    assert package["feeds"] == []
    assert [p["name"] for p in rest("GET", "packages").json()] == ["demo"]
    assert rest("GET", "packages").json()[0]["binding"] is False  # the list view's way


def test_a_package_holding_actions_is_deleted_only_with_force(ow: OpenWhiskStandIn,
                                                              rest: Rest) -> None:
    setup_demo(rest)
    answer = rest("DELETE", "packages/demo")
    assert answer.status_code == 409
    assert error(answer) == ("Package not empty (contains 1 entity). Set force param or delete "
                             "package contents.")
    assert rest("DELETE", "packages/demo", force="true").ok
    assert ow.names("packages") == ow.names("actions") == []


def test_the_package_name_default_is_reserved(rest: Rest) -> None:
    answer = rest("PUT", "packages/default", {})
    assert (answer.status_code, error(answer)) == (400, "Package name 'default' is reserved.")


def test_a_binding_gets_a_binding_annotation_and_merges_parameters(rest: Rest) -> None:
    setup_demo(rest)
    sent = {"binding": {"namespace": "_", "name": "demo"}, "parameters": kv(REGION="us", X=1),
            "annotations": kv(binding="forged", note="mine")}
    stored = rest("PUT", "packages/bound", sent).json()

    assert stored["binding"] == {"namespace": NAMESPACE, "name": "demo"}
    assert as_dict(stored["annotations"]) == {"binding": {"namespace": NAMESPACE, "name": "demo"},
                                              "note": "mine"}
    shown = rest("GET", "packages/bound").json()
    assert as_dict(shown["parameters"]) == {"REGION": "us", "X": 1}
    assert [action["name"] for action in shown["actions"]] == ["hello"]
    action = rest("GET", "actions/bound/hello").json()
    assert action["namespace"] == "ns/demo"
    assert as_dict(action["parameters"]) == {"REGION": "us", "X": 1, "name": "world"}
    assert [a["name"] for a in rest("GET", "actions/bound/").json()] == ["hello"]


def test_bindings_are_checked(rest: Rest) -> None:
    setup_demo(rest)
    answer = rest("PUT", "packages/b", {"binding": {"namespace": "ns", "name": "missing"}})
    assert (answer.status_code, error(answer)) == (
        400, "Binding references a package that does not exist.")
    assert rest("PUT", "packages/b", {"binding": {"namespace": "ns", "name": "demo"}}).ok
    answer = rest("PUT", "packages/c", {"binding": {"namespace": "ns", "name": "b"}})
    assert (answer.status_code, error(answer)) == (400, "Cannot bind to another package binding.")
    answer = rest("PUT", "packages/demo", {"binding": {"namespace": "ns", "name": "b"}},
                  overwrite="true")
    assert (answer.status_code, error(answer)) == (
        409, "Resource is a package and cannot be converted into a binding.")
    answer = rest("PUT", "actions/b/new", python())
    assert (answer.status_code, error(answer)) == (
        400, "Operation not permitted on package binding.")


# --- actions -----------------------------------------------------------------------------


def test_an_action_gets_server_annotations_and_default_limits(rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    stored = rest("PUT", "actions/demo/hello", python(annotations=kv(**{"web-export": True}),
                                                      limits={"timeout": 30000})).json()

    assert as_dict(stored["annotations"]) == {"web-export": True, "exec": "python:3.11",
                                              "provide-api-key": False}
    assert stored["limits"] == {"timeout": 30000, "memory": 256, "logs": 10, "concurrency": 1}
    assert stored["exec"] == {"kind": "python:3.11", "code": CODE, "main": "main",
                              "binary": True}
    assert (stored["namespace"], stored["name"], stored["version"]) == ("ns/demo", "hello",
                                                                          "0.0.1")


def test_an_action_get_merges_its_packages_parameters_under_its_own(rest: Rest) -> None:
    rest("PUT", "packages/demo", {"parameters": kv(REGION="eu", name="package")})
    rest("PUT", "actions/demo/hello", python(parameters=[
        {"key": "name", "value": "action"}, {"key": "SECRET", "value": "s", "init": True}]))

    shown = rest("GET", "actions/demo/hello").json()
    assert shown["parameters"] == [{"key": "REGION", "value": "eu"},  # sorted by key
                                   {"key": "SECRET", "value": "s", "init": True},
                                   {"key": "name", "value": "action"}]
    assert [p["key"] for p in rest("PUT", "actions/demo/hello", python(parameters=kv(
        name="action")), overwrite="true").json()["parameters"]] == ["name"]  # stored: its own


def test_an_action_get_carries_the_code_unless_code_is_false(rest: Rest) -> None:
    setup_demo(rest)
    assert rest("GET", "actions/demo/hello").json()["exec"]["code"] == CODE
    assert rest("GET", "actions/demo/hello", code="false").json()["exec"] == {
        "kind": "python:3.11", "main": "main", "binary": True}


def test_an_action_update_merges_annotations_and_limits_but_replaces_parameters(
        rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    rest("PUT", "actions/demo/hello", python(
        parameters=kv(a=1, b=2), annotations=kv(**{"web-export": True, "raw-http": False}),
        limits={"timeout": 30000, "memory": 512}))
    updated = rest("PUT", "actions/demo/hello", python(
        parameters=kv(b=3), annotations=kv(final=True), delAnnotations=["raw-http"],
        limits={"memory": 128}), overwrite="true").json()

    assert as_dict(updated["parameters"]) == {"b": 3}
    assert as_dict(updated["annotations"]) == {"web-export": True, "final": True,
                                               "exec": "python:3.11", "provide-api-key": False}
    assert updated["limits"] == {"timeout": 30000, "memory": 128, "logs": 10, "concurrency": 1}
    assert updated["version"] == "0.0.2"


def test_binary_is_decided_by_the_server(rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    exec_ = {"kind": "python:default", "code": "def main(args):\n    return {}\n"}
    stored = rest("PUT", "actions/demo/plain", {"exec": exec_}).json()
    assert stored["exec"]["binary"] is False
    assert stored["exec"]["kind"] == "python:3.10"  # the family's default


@pytest.mark.parametrize(("body", "message"), [
    (python(parameters=[{"key": "a", "value": 1, "init": "true"}]), "parameters malformed"),
    (python(parameters={"a": 1}), "parameters malformed"),
    (python(limits={"timeout": 50}), "duration 50 milliseconds below allowed threshold of 100"),
    (python(limits={"memory": 1024}), "memory 1024 MB exceeds allowed threshold of 512 MB"),
    (python(limits={"concurrency": 2}), "concurrency 2 exceeds allowed threshold of 1"),
    ({"exec": {"kind": "python:2", "code": CODE}}, "The specified runtime 'python:2' is not "
                                                   "supported"),
    ({"exec": {"kind": "python:3.11"}}, "'code' must be a string"),
    ({"parameters": []}, "exec undefined"),
])
def test_a_malformed_action_is_refused_with_400(rest: Rest, body: dict, message: str) -> None:
    rest("PUT", "packages/demo", {})
    answer = rest("PUT", "actions/demo/bad", body)
    assert answer.status_code == 400
    assert message in error(answer)


def test_init_true_is_kept(ow: OpenWhiskStandIn, rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    rest("PUT", "actions/demo/hello", python(parameters=[
        {"key": "KEY", "value": "v", "init": True}, {"key": "other", "value": 1, "init": False}]))
    assert ow.actions["ns/demo/hello"]["parameters"] == [
        {"key": "KEY", "value": "v", "init": True}, {"key": "other", "value": 1}]


def test_sequence_components_must_exist_and_be_fully_qualified(rest: Rest) -> None:
    setup_demo(rest)
    cases = [(["/ns/demo/missing"], "Sequence component does not exist."),
             (["demo/hello"], "Sequence component does not exist."),  # namespace "demo"
             (["hello"], "The fully qualified name of the entity must contain at least"),
             ([], "No component specified for the sequence.")]
    for components, message in cases:
        answer = rest("PUT", "actions/demo/seq", {"exec": {"kind": "sequence",
                                                           "components": components}})
        assert answer.status_code == 400
        assert message in error(answer)


def test_a_sequence_keeps_its_components_as_its_only_parameter(rest: Rest) -> None:
    setup_demo(rest)
    body = {"exec": {"kind": "sequence", "components": ["/_/demo/hello", "/ns/demo/hello"]},
            "parameters": kv(ignored=1), "annotations": kv(**{"web-export": True})}
    assert rest("PUT", "actions/demo/seq", body).ok

    shown = rest("GET", "actions/demo/seq").json()
    assert shown["exec"] == {"kind": "sequence",
                             "components": ["/ns/demo/hello", "/ns/demo/hello"]}
    assert as_dict(shown["parameters"]) == {"REGION": "eu",
                                            "_actions": ["/ns/demo/hello", "/ns/demo/hello"]}
    assert as_dict(shown["annotations"])["exec"] == "sequence"


def test_a_sequence_may_not_refer_to_itself(rest: Rest) -> None:
    setup_demo(rest)

    def sequence(name: str, *components: str) -> requests.Response:
        return rest("PUT", f"actions/demo/{name}", {"exec": {
            "kind": "sequence", "components": [f"/ns/demo/{c}" for c in components]}},
            overwrite="true")

    assert sequence("seq", "hello").ok
    assert sequence("outer", "seq").ok
    for answer in (sequence("new", "new"), sequence("seq", "seq"), sequence("seq", "outer")):
        assert (answer.status_code, error(answer)) == (400, "Sequence may not refer to itself.")


def test_lists_page_newest_first_without_parameters_or_code(rest: Rest) -> None:
    rest("PUT", "packages/demo", {})
    for index in range(35):
        rest("PUT", f"actions/demo/a{index:02}", python(parameters=kv(p=index)))

    first = rest("GET", "actions").json()
    assert [entry["name"] for entry in first] == [f"a{index:02}" for index in range(34, 4, -1)]
    assert {entry["namespace"] for entry in first} == {"ns/demo"}
    assert all("parameters" not in entry and "code" not in entry["exec"] for entry in first)
    assert as_dict(first[0]["annotations"])["exec"] == "python:3.11"
    assert [e["name"] for e in rest("GET", "actions", skip=30).json()] == [
        "a04", "a03", "a02", "a01", "a00"]
    assert len(rest("GET", "actions", limit=0).json()) == 35  # 0 means the maximum, 200
    answer = rest("GET", "actions", limit=201)
    assert answer.status_code == 400
    assert "The value '201' is not in the range of 0 to 200 for actions." in error(answer)


# --- triggers and rules ------------------------------------------------------------------


def setup_rule(rest: Rest) -> None:
    setup_demo(rest)
    assert rest("PUT", "triggers/t", {"annotations": kv(feed=FEED)}).ok
    assert rest("PUT", "rules/r", {"trigger": "/_/t", "action": "/_/demo/hello"}).ok


def test_a_trigger_update_replaces_its_annotations_and_keeps_its_rules(rest: Rest) -> None:
    setup_rule(rest)
    rest("PUT", "triggers/t", {"parameters": kv(x=1), "annotations": kv(note="n")},
         overwrite="true")

    trigger = rest("GET", "triggers/t").json()
    assert (trigger["parameters"], trigger["annotations"]) == (kv(x=1), kv(note="n"))
    assert trigger["rules"] == {"ns/r": {"action": {"path": "ns/demo", "name": "hello"},
                                         "status": "active"}}


def test_a_rule_needs_its_trigger_and_action(rest: Rest) -> None:
    setup_demo(rest)
    rest("PUT", "triggers/t", {})
    for body, message in (({"trigger": "/ns/nope", "action": "/ns/demo/hello"},
                           "trigger /ns/nope does not exist"),
                          ({"trigger": "/ns/t", "action": "/ns/demo/nope"},
                           "action /ns/demo/nope does not exist"),
                          ({"trigger": "/ns/t"}, "rule requires a valid trigger and a valid "
                                                 "action")):
        answer = rest("PUT", "rules/r", body)
        assert (answer.status_code, error(answer)) == (400, message)


def test_a_rule_is_created_active_and_its_state_kept_in_its_trigger(ow: OpenWhiskStandIn,
                                                                    rest: Rest) -> None:
    setup_rule(rest)
    rule = rest("GET", "rules/r").json()
    assert (rule["trigger"], rule["action"], rule["status"]) == (
        {"path": "ns", "name": "t"}, {"path": "ns/demo", "name": "hello"}, "active")
    assert "status" not in ow.rules["ns/r"]  # kept in the trigger, not in the rule
    assert "status" not in rest("GET", "rules").json()[0]


def test_a_rule_post_switches_its_state_and_answers_plain_text(ow: OpenWhiskStandIn,
                                                               rest: Rest) -> None:
    setup_rule(rest)
    for status in ("inactive", "inactive", "active"):
        answer = rest("POST", "rules/r", {"status": status})
        assert (answer.status_code, answer.text) == (200, "OK")
        assert answer.headers["Content-Type"].startswith("text/plain")
        assert ow.triggers["ns/t"]["rules"]["ns/r"]["status"] == status
    assert rest("POST", "rules/r", {"status": "paused"}).status_code == 400


def test_a_recreated_trigger_leaves_its_rules_inactive_until_reactivated(rest: Rest) -> None:
    setup_rule(rest)
    assert rest("DELETE", "triggers/t").ok
    assert rest("GET", "rules/r").json()["status"] == "inactive"
    assert rest("PUT", "triggers/t", {}).ok
    assert "rules" not in rest("GET", "triggers/t").json()
    assert rest("GET", "rules/r").json()["status"] == "inactive"

    assert rest("POST", "rules/r", {"status": "active"}).text == "OK"
    assert rest("GET", "rules/r").json()["status"] == "active"


def test_a_rule_of_a_deleted_trigger_cannot_be_activated(rest: Rest) -> None:
    setup_rule(rest)
    rest("DELETE", "triggers/t")
    answer = rest("POST", "rules/r", {"status": "active"})
    assert (answer.status_code, error(answer)) == (
        404, "Only rules with existing triggers can be activated")


def test_deleting_a_rule_unlinks_it_from_its_trigger(ow: OpenWhiskStandIn, rest: Rest) -> None:
    setup_rule(rest)
    assert rest("DELETE", "actions/demo/hello").ok  # what a rule names may go first
    assert rest("DELETE", "rules/r").json()["status"] == "inactive"
    assert ow.triggers["ns/t"]["rules"] == {}
    assert ow.names("rules") == []


def test_a_rule_update_moves_it_to_its_new_trigger_keeping_its_state(ow: OpenWhiskStandIn,
                                                                     rest: Rest) -> None:
    setup_rule(rest)
    rest("POST", "rules/r", {"status": "inactive"})
    rest("PUT", "triggers/t2", {})
    rule = rest("PUT", "rules/r", {"trigger": "t2"}, overwrite="true").json()
    assert (rule["trigger"], rule["status"]) == ({"path": "ns", "name": "t2"}, "inactive")
    assert ow.triggers["ns/t"]["rules"] == {}
    assert list(ow.triggers["ns/t2"]["rules"]) == ["ns/r"]


# --- feeds -------------------------------------------------------------------------------


def feed(rest: Rest, event: str, action: str = FEED, trigger: str = "/_/t",
         **inputs: Any) -> requests.Response:
    body = {"lifecycleEvent": event, "triggerName": trigger, "authKey": AUTH, **inputs}
    return rest("POST", "/" + action.lstrip("/").replace("/", "/actions/", 1), body,
                blocking="true")


def test_the_alarms_feed_lifecycle(ow: OpenWhiskStandIn, rest: Rest) -> None:
    answer = feed(rest, "CREATE", cron="*/5 * * * *")
    assert answer.status_code == 502  # the trigger must exist first
    assert answer.json()["response"]["result"] == {
        "error": {"error": "Trigger authentication request failed."}}

    rest("PUT", "triggers/t", {"annotations": kv(feed=FEED)})
    answer = feed(rest, "CREATE", cron="*/5 * * * *", trigger_payload={"a": 1})
    assert answer.status_code == 200
    assert answer.json()["response"] == {"status": "success", "statusCode": 0, "success": True,
                                         "result": {"status": "success"}}
    assert answer.headers["x-openwhisk-activation-id"] == answer.json()["activationId"]
    assert ow.feeds.registrations == {"/ns/t": {"cron": "*/5 * * * *",
                                                "trigger_payload": {"a": 1}}}

    again = feed(rest, "CREATE", cron="0 * * * *")
    assert again.status_code == 502
    assert again.json()["response"]["result"]["error"]["error"] == "error creating alarm trigger."
    assert feed(rest, "READ").json()["response"]["result"]["config"]["cron"] == "*/5 * * * *"
    assert feed(rest, "UPDATE", cron="0 * * * *").ok
    assert ow.feeds.registrations["/ns/t"]["cron"] == "0 * * * *"
    for event in ("PAUSE", "UNPAUSE"):
        refused = feed(rest, event)
        assert refused.status_code == 502
        assert refused.json()["response"]["result"] == {"error": "unsupported lifecycleEvent"}

    assert feed(rest, "DELETE").ok
    assert ow.feeds.registrations == {}
    gone = feed(rest, "DELETE")
    assert gone.json()["response"]["result"] == {
        "error": {"error": "could not find trigger /ns/t in the database"}}
    assert [(i.feed, i.body["lifecycleEvent"]) for i in ow.feeds.invocations][:2] == [
        ("whisk.system/alarms/alarm", "CREATE"), ("whisk.system/alarms/alarm", "CREATE")]
    assert ow.feeds.invocations[1].body == {"lifecycleEvent": "CREATE", "triggerName": "/_/t",
                                            "authKey": AUTH, "cron": "*/5 * * * *",
                                            "trigger_payload": {"a": 1}}


def test_a_feed_reached_through_a_binding_gets_the_bindings_parameters(
        ow: OpenWhiskStandIn, rest: Rest) -> None:
    rest("PUT", "packages/myalarms", {"binding": {"namespace": "whisk.system", "name": "alarms"},
                                      "parameters": kv(minutes=5)})
    rest("PUT", "triggers/every5", {})
    answer = rest("POST", "actions/myalarms/interval", {
        "lifecycleEvent": "CREATE", "triggerName": "/ns/every5", "authKey": AUTH},
        blocking="true", result="true")

    assert (answer.status_code, answer.json()) == (200, {"status": "success"})
    assert ow.feeds.registrations == {"/ns/every5": {"minutes": 5}}
    assert ow.feeds.invocations[0].args["minutes"] == 5
    assert "minutes" not in ow.feeds.invocations[0].body
    feeds = rest("GET", "packages/myalarms").json()["feeds"]
    assert sorted(entry["name"] for entry in feeds) == ["alarm", "interval", "once"]


@pytest.mark.parametrize(("action", "inputs", "message"), [
    (FEED, {}, "alarms trigger feed is missing the cron parameter"),
    ("/whisk.system/alarms/once", {}, "alarms once trigger feed is missing the date parameter"),
    ("/whisk.system/alarms/interval", {"minutes": "x"}, "the minutes parameter must be an "
                                                        "integer"),
    (FEED, {"authKey": "someone:else", "cron": "* * * * *"}, "Trigger authentication request "
                                                             "failed."),
])
def test_a_feed_checks_its_inputs(rest: Rest, action: str, inputs: dict, message: str) -> None:
    rest("PUT", "triggers/t", {})
    answer = feed(rest, "CREATE", action, **inputs)
    assert answer.status_code == 502
    assert answer.json()["response"]["result"] == {"error": {"error": message}}


def test_a_non_blocking_invocation_answers_202(ow: OpenWhiskStandIn, rest: Rest) -> None:
    rest("PUT", "triggers/t", {})
    answer = rest("POST", "/whisk.system/actions/alarms/alarm", {
        "lifecycleEvent": "CREATE", "triggerName": "/ns/t", "authKey": AUTH, "cron": "* * * * *"})
    assert answer.status_code == 202
    assert set(answer.json()) == {"activationId"}
    assert list(ow.feeds.registrations) == ["/ns/t"]


def test_only_feed_actions_run(rest: Rest) -> None:
    setup_demo(rest)
    answer = rest("POST", "actions/demo/hello", {}, blocking="true")
    assert answer.status_code == 502
    assert answer.json()["response"]["success"] is False


# --- life cycle and deploy.py ------------------------------------------------------------


def test_stop_leaves_no_thread_behind_even_with_an_open_connection() -> None:
    before = set(threading.enumerate())
    session = requests.Session()
    with OpenWhiskStandIn() as ow:
        assert session.get(ow.apihost + "/", timeout=10).ok  # a keep-alive connection stays
        url = ow.apihost
    session.close()
    assert set(threading.enumerate()) == before
    with pytest.raises(RuntimeError):
        ow.apihost  # noqa: B018
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)


def test_state_can_be_read_without_http(ow: OpenWhiskStandIn, rest: Rest) -> None:
    setup_demo(rest)
    assert ow.names("packages") == ["demo"]
    assert ow.names("actions") == ["demo/hello"]
    assert as_dict(ow.view("actions", "demo/hello")["parameters"]) == {"REGION": "eu",
                                                                      "name": "world"}
    with pytest.raises(Reject):
        ow.view("actions", "demo/nope")
    assert ow.env() == {"AIO_RUNTIME_APIHOST": ow.apihost, "AIO_RUNTIME_AUTH": AUTH,
                        "AIO_RUNTIME_NAMESPACE": NAMESPACE}
    assert ow.argv() == ["--apihost", ow.apihost, "--auth", AUTH, "--namespace", NAMESPACE]


def test_deploy_py_deploys_to_it_and_a_second_deploy_updates(
        ow: OpenWhiskStandIn, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.deploy import operations
    from tools.manifest import load_manifest

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.wskprops of the user's
    manifest_path = make_project(tmp_path / "project")
    options = operations.Options(apihost=ow.apihost, auth=AUTH, namespace=NAMESPACE)
    env = dict(HELLO_ENV)
    assert operations.deploy(load_manifest(manifest_path, env), env, options, io.StringIO()) == 0
    assert {"PUT packages/demo", "PUT actions/demo/hello"} <= {c.brief for c in ow.writes()}

    ow.clear_calls()
    env["NAME"] = "again"
    assert operations.deploy(load_manifest(manifest_path, env), env, options, io.StringIO()) == 0
    assert ow.names("packages") == ["demo"]
    assert ow.names("actions") == ["demo/hello"]
    action = ow.view("actions", "demo/hello")
    assert as_dict(action["parameters"])["name"] == "again"
    assert as_dict(action["parameters"])["REGION"] == HELLO_ENV["REGION"]  # the package's
    assert action["limits"]["timeout"] == 30000
