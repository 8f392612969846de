"""The API gateway's route management: OpenWhisk's ``/whisk.system/apimgmt`` web actions.

``createApi``, ``getApi`` and ``deleteApi`` are called as ``wsk api`` calls them: as web
actions (``….http``) with the caller's key, ``spaceguid`` (the key's uuid, the gateway's
tenant) and ``accesstoken`` (``APIGW_ACCESS_TOKEN`` from the shell, .env or ``~/.wskprops``, else
the placeholder wsk sends), without which the actions take a path no stock deployment
configures. The AUTH key travels in createApi's body as ``authkey``: a shown call has it
masked. A server without the gateway has no apimgmt package: its actions answer 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.deploy.client import API, Call, Client, OpenWhiskError, web_url
from tools.deploy.credentials import APIGW_TOKEN
from tools.manifest.apis import path_parameters
from tools.manifest.model import Route

APIMGMT = f"{API}/web/whisk.system/apimgmt"
DUMMY_TOKEN = "DUMMY TOKEN"  # noqa: S105 - wsk's placeholder, sent when none is configured
SHOWN_AUTH = "<AUTH>"
SHOWN_TOKEN = f"<{APIGW_TOKEN}>"


@dataclass(frozen=True)
class HeldRoute:
    """One operation of an API the gateway holds: where it sends requests, and its URL."""

    namespace: str  # the action's, from x-openwhisk
    package: str  # "default" for an action in no package
    action: str
    response: str  # the extension of the web action the gateway calls
    url: str  # the gateway URL it answers at


def tenant_params(client: Client) -> dict[str, str]:
    """The gateway tenant every call names: the key's uuid, with the access token."""
    return {"accesstoken": client.credentials.apigw_token or DUMMY_TOKEN,
            "spaceguid": client.credentials.basic_auth[0]}


def apidoc(route: Route, apihost: str, namespace: str, authkey: str,
           secure_key: Any = None) -> dict[str, Any]:
    """createApi's ``apidoc`` for one route, as ``wsk api create`` builds it."""
    package, _, name = route.action.partition("/")
    doc: dict[str, Any] = {
        "namespace": namespace, "apiName": route.api, "gatewayBasePath": route.basepath,
        "gatewayPath": route.relpath, "gatewayMethod": route.method,
        "id": f"API:{namespace}:{route.basepath}",
        "action": {"name": route.action, "namespace": namespace,
                   "backendMethod": route.method,
                   "backendUrl": web_url(apihost, namespace, package, name) + ".http",
                   "authkey": authkey,
                   **({"secureKey": secure_key} if secure_key is not None else {})}}
    parameters = path_parameters(route.relpath)
    if parameters:
        doc["pathParameters"] = [
            {"name": item, "in": "path", "description": f"Default description for '{item}'",
             "required": True, "type": "string"} for item in parameters]
    return doc


def create_call(route: Route, apihost: str, namespace: str, authkey: str,
                params: Mapping[str, str], secure_key: Any = None) -> Call:
    return Call("POST", f"{APIMGMT}/createApi.http",
                {"responsetype": route.response, **params},
                {"apidoc": apidoc(route, apihost, namespace, authkey, secure_key)})


def delete_call(basepath: str, relpath: str, method: str, params: Mapping[str, str]) -> Call:
    """Deletes one operation of one path: never the whole base path."""
    return Call("DELETE", f"{APIMGMT}/deleteApi.http",
                {"basepath": basepath, "relpath": relpath, "operation": method, **params})


def create(client: Client, route: Route, namespace: str, secure_key: Any, what: str) -> None:
    client.send(create_call(route, client.credentials.apihost, namespace,
                            client.credentials.auth, tenant_params(client), secure_key), what)


def delete(client: Client, basepath: str, relpath: str, method: str, what: str) -> None:
    client.send(delete_call(basepath, relpath, method, tenant_params(client)), what)


def held_routes(client: Client, basepath: str | None = None
                ) -> dict[tuple[str, str, str], HeldRoute] | None:
    """Every operation of the tenant's APIs (of one base path, when given), by (base path,
    rel path, METHOD); None when the server has no gateway."""
    what = "reading the API gateway's routes"
    params = {**tenant_params(client), **({"basepath": basepath} if basepath else {})}
    answer = client.found(Call("GET", f"{APIMGMT}/getApi.http", params), what)
    if answer is None:
        return None
    body = answer.json_or(None)
    apis = body.get("apis") if isinstance(body, dict) else None
    if not isinstance(apis, list):
        raise OpenWhiskError(what, answer.status, "a malformed answer: no 'apis' list")
    found = {}
    for entry in apis:
        value = entry.get("value") if isinstance(entry, dict) else None
        doc = value.get("apidoc") if isinstance(value, dict) else None
        if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
            raise OpenWhiskError(what, answer.status, "a malformed answer: an API has no "
                                                      "apidoc with paths")
        managed = str(value.get("gwApiUrl") or "")
        for relpath, operations in doc["paths"].items():
            for method, operation in (operations or {}).items():
                held = _held(operation, managed + relpath)
                if held is not None:
                    found[(str(doc.get("basePath")), relpath, method.upper())] = held
    return found


def _held(operation: Any, url: str) -> HeldRoute | None:
    """An operation's action, from its ``x-openwhisk``; None for one that calls no action."""
    target = operation.get("x-openwhisk") if isinstance(operation, dict) else None
    if not isinstance(target, dict):
        return None
    backend = str(target.get("url") or "")
    response = backend.rpartition(".")[2] if "." in backend.rpartition("/")[2] else ""
    return HeldRoute(str(target.get("namespace")), str(target.get("package")),
                     str(target.get("action")), response, url)


def has_gateway(client: Client) -> bool:
    """Whether the server has the API gateway: without it, its apimgmt actions answer 404."""
    return held_routes(client, "/") is not None
