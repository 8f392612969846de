"""The API gateway of a stock deployment: the ``/whisk.system/apimgmt`` web actions createApi,
getApi and deleteApi on their V2 path (apache/openwhisk core/routemgmt/{createApi,getApi,
deleteApi}/*.js, common/apigw-utils.js), and the gateway answering the routes
(apache/openwhisk-apigateway scripts/lua/routing.lua, policies/backendRouting.lua), as
../shared/reference/openwhisk.md §9 has them: errors as HTTP 502 ``{"error"}`` (200 when
called ``.json``), one swagger per base path in the key's tenant (``spaceguid``), a route
answered by running its web action."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from tests.standin.activations import record_run
from tests.standin.fields import as_dict
from tests.standin.store import Store
from tests.standin.wire import API, Answer, Doc, Json, Reject, Request

APIMGMT = f"{API}/web/whisk.system/apimgmt/"
ACTIONS = ("createApi", "getApi", "deleteApi")
FINAL = re.compile(r"\A(gwUrlV2|gwUser|gwPwd|__ow_.*)\Z")  # the package's, final
NOT_USED = "Not Used"
PARAMETER = re.compile(r"\{([^{}/]+)\}")
NOT_FOUND = {"status": 404, "message": "Error: Not found."}
NO_VERB = {"status": 404, "message": "Error: Whoops. Verb not supported."}


class Failure(Exception):
    """A rejected promise of an apimgmt action: makeErrorResponseObject's message."""


def is_gateway_path(path: str) -> bool:
    """``/api/<tenant>/…``: the gateway's, not the controller's ``/api/v1/…``."""
    parts = path.split("/")
    return len(parts) > 3 and parts[1] == "api" and parts[2] not in ("", "v1")


class ApiGateway:
    """The apimgmt actions and the gateway; ``installed = False`` is a deployment without them
    (the package's web URLs answer 404)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.installed = True
        self.tenants: dict[str, dict[str, Doc]] = {}  # spaceguid -> basepath -> {doc, url}

    # --- the apimgmt web actions --------------------------------------------------------------

    def manage(self, method: str, path: str, query: dict[str, str], body: Json,
               authorized: bool) -> Answer:
        name, _, extension = path[len(APIMGMT):].partition(".")
        if not self.installed or name not in ACTIONS or extension not in ("", "http", "json"):
            raise Reject(404)
        params = {**query, **(body if isinstance(body, dict) else {})}
        if any(FINAL.match(key) for key in params):
            raise Reject(400, "Request defines parameters that are not allowed (e.g., reserved "
                              "properties).")
        user = self.store.namespace if authorized else None
        try:
            result = getattr(self, name.lower())(params, user)
        except Failure as failure:
            error = {"error": str(failure)}
            return Answer(200, {"statusCode": 502, "headers": {"Content-Type":
                                "application/json"}, "body": error}) if extension == "json" \
                else Answer(502, error)
        return Answer(200, result)

    def createapi(self, params: Doc, user: str | None) -> Doc:
        if user is None:
            raise Failure("A valid auth key is required.")
        doc = params.get("apidoc")
        if doc is None:
            raise Failure("apidoc is required.")
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                raise Failure("apidoc field cannot be parsed. Ensure it is valid JSON.") from None
        _check_apidoc(doc)
        if not params.get("accesstoken"):
            raise Failure("API creation failure: Unable to configure the API Gateway: gwUrl "
                          "is not configured")
        basepath, relpath = doc["gatewayBasePath"], doc["gatewayPath"]
        if PARAMETER.search(basepath):
            raise Failure(f"The base path ({basepath}) cannot have parameters. Only the "
                          "relative path supports path parameters.")
        response = params.get("responsetype") or "json"
        if PARAMETER.search(relpath) and response != "http":
            raise Failure("The action must use a response type of '.http' in order to receive "
                          "the path parameters.")
        action = doc["action"]
        namespace = user if action["namespace"] == "_" else action["namespace"]
        package, _, name = action["name"].rpartition("/")
        backend = urlsplit(action["backendUrl"])
        url = (f"{backend.scheme}://{backend.netloc}{API}/web/{namespace}/{package or 'default'}/"
               f"{name}.{response}")
        tenant = self.tenants.setdefault(params.get("spaceguid", ""), {})
        api = tenant.get(basepath) or {
            "url": f"{backend.scheme}://{backend.netloc}/api/{params.get('spaceguid')}/"
                   f"{basepath.strip('/')}",
            "doc": {"swagger": "2.0", "info": {"title": doc.get("apiName") or basepath,
                                               "version": "1.0.0"},
                    "basePath": basepath, "paths": {},
                    "x-ibm-configuration": {"assembly": {}, "cors": {"enabled": True}}}}
        method = doc["gatewayMethod"].lower()
        operation_id = method + "".join(word.capitalize()
                                        for word in re.split(r"[^A-Za-z0-9]+", relpath) if word)
        api["doc"]["paths"].setdefault(relpath, {})[method] = {
            "operationId": operation_id, "parameters": doc.get("pathParameters") or [],
            "x-openwhisk": {"url": url, "namespace": namespace, "package": package or "default",
                            "action": name},
            "responses": {"default": {"description": "Default response"}}}
        execute = [{"invoke": {"target-url": url + ("$(request.path)" if response == "http"
                                                    else ""), "verb": "keep"}}]
        if action.get("secureKey") is not None:
            execute.append({"set-variable": {"actions": [{
                "set": "message.headers.X-Require-Whisk-Auth", "value": action["secureKey"]}]}})
        cases = _cases(api["doc"])
        cases[:] = [case for case in cases if case["operations"] != [operation_id]]
        cases.append({"operations": [operation_id], "execute": execute})
        tenant[basepath] = api
        return {"namespace": NOT_USED, "gwApiActivated": True, "tenantId": NOT_USED,
                "gwApiUrl": api["url"], "apidoc": api["doc"]}

    def getapi(self, params: Doc, user: str | None) -> Doc:
        if user is None:
            raise Failure("Invalid authentication.")
        if params.get("outputFormat", "swagger").lower() not in ("apigw", "swagger"):
            raise Failure("Invalid outputFormat value. Valid values are: apigw, swagger")
        if not params.get("accesstoken"):
            raise Failure("API GW failure: Unable to obtain Tenant from the API Gateway: gwUrl "
                          "is not configured")
        wanted = params.get("basepath")
        apis = [api for basepath, api in self.tenants.get(params.get("spaceguid", ""), {}).items()
                if not wanted or wanted == (basepath if wanted.startswith("/")
                                            else api["doc"]["info"]["title"])]
        if "limit" in params or "skip" in params:
            skip, limit = int(params.get("skip", 0)), int(params.get("limit", len(apis)))
            apis = apis[skip:skip + max(limit, 0)]
        return {"apis": [{"id": NOT_USED, "key": NOT_USED, "value": {
            "namespace": NOT_USED, "gwApiActivated": True, "tenantId": NOT_USED,
            "gwApiUrl": api["url"], "apidoc": api["doc"]}} for api in apis]}

    def deleteapi(self, params: Doc, user: str | None) -> Doc:
        if user is None:
            raise Failure("Invalid authentication.")
        basepath, relpath = params.get("basepath"), params.get("relpath")
        operation = params.get("operation")
        if not basepath:
            raise Failure("basepath is required.")
        if operation and not relpath:
            raise Failure("When specifying an operation, the path is required.")
        if not params.get("accesstoken"):
            raise Failure("API deletion failure: gwUrl is not configured")
        tenant = self.tenants.get(params.get("spaceguid", ""), {})
        api = tenant.get(basepath)
        if api is None:
            raise Failure(f"API deletion failure: API '{basepath}' does not exist.")
        paths = api["doc"]["paths"]
        if relpath:
            if relpath not in paths:
                raise Failure(f"API deletion failure: path '{relpath}' does not exist in the API")
            gone = [operation.lower()] if operation else list(paths[relpath])
            if operation and operation.lower() not in paths[relpath]:
                raise Failure(f"API deletion failure: path '{relpath}' with operation "
                              f"'{operation}' does not exist in the API")
            ids = [paths[relpath].pop(verb)["operationId"] for verb in gone]
            cases = _cases(api["doc"])
            cases[:] = [case for case in cases if not set(case["operations"]) & set(ids)]
            if not paths[relpath]:
                del paths[relpath]
        if not relpath or not paths:
            del tenant[basepath]
        return {}

    # --- the gateway --------------------------------------------------------------------------

    def call(self, method: str, path: str, query: dict[str, str], body: Json,
             headers: dict[str, str] | None = None) -> Answer:
        """A request to ``/api/<tenant>/<basepath><relpath>``, answered by the route's action."""
        _, _, tenant, rest = path.split("/", 3)
        found = self._match(tenant, "/" + rest)
        if found is None:
            return Answer(404, NOT_FOUND)
        operations, matched = found
        operation = operations.get(method.lower())
        if operation is None:
            return Answer(404, NO_VERB)
        target = operation["x-openwhisk"]
        response = target["url"].rpartition(".")[2]
        names = [target["action"]] if target["package"] == "default" else [target["package"],
                                                                           target["action"]]
        action = self.store.actions.get("/".join((target["namespace"], *names)))
        if action is None or as_dict(action["annotations"]).get("web-export") is not True:
            raise Reject(404)
        _, parameters = self.store.resolve_action(target["namespace"], names)
        args = {**as_dict(parameters.values()), "__ow_method": method.lower(),
                "__ow_headers": headers or {},
                "__ow_path": "/" + rest if response == "http" else rest[len(matched):],
                **query, **(body if isinstance(body, dict) else {})}
        run = record_run(self.store, Request(target["namespace"], names,
                                             {"blocking": "true", "result": "true"}, {}),
                         action, args)
        return _projected(run, response)

    def _match(self, tenant: str, path: str) -> tuple[Doc, str] | None:
        """The operations of the route ``path`` names (exactly, with a trailing ``/``, with
        ``{x}`` segments, else its longest prefix), and the part of ``path`` it matched."""
        best: tuple[int, Doc, str] | None = None
        for basepath, api in self.tenants.get(tenant, {}).items():
            for relpath, operations in api["doc"]["paths"].items():
                full = basepath.rstrip("/") + relpath
                pattern = PARAMETER.sub("[^/]+", re.escape(full).replace(r"\{", "{")
                                        .replace(r"\}", "}")).rstrip("/")
                exact = re.fullmatch(pattern + "/?", path)
                prefix = re.match(pattern + "(/|$)", path)
                if exact:
                    return operations, path
                if prefix and (best is None or len(prefix.group(0)) > best[0]):
                    best = (len(prefix.group(0)), operations, prefix.group(0).rstrip("/"))
        return None if best is None else (best[1], best[2])


def _check_apidoc(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise Failure("apidoc field cannot be parsed. Ensure it is valid JSON.")
    for name in ("namespace", "gatewayBasePath", "gatewayPath", "gatewayMethod"):
        if not doc.get(name):
            raise Failure(f"apidoc is missing the {name} field")
    action = doc.get("action")
    if not isinstance(action, dict):
        raise Failure("apidoc is missing the action field.")
    for name in ("backendMethod", "backendUrl", "namespace", "name", "authkey"):
        if not action.get(name):
            raise Failure(f"action is missing the {name} field.")


def _cases(doc: Doc) -> list[Doc]:
    """The swagger's operation-switch cases, made if absent."""
    assembly = doc["x-ibm-configuration"]["assembly"]
    execute = assembly.setdefault("execute", [{"operation-switch": {"case": []}}])
    return execute[0]["operation-switch"]["case"]


def _projected(run: Answer, response: str) -> Answer:
    """A web action's answer: ``json`` the result, ``http`` its statusCode, headers and body."""
    result = run.body if isinstance(run.body, dict) else {}
    if run.status != 200:
        return Answer(400 if run.status == 502 else run.status, result.get("error", result))
    if response != "http":
        return Answer(200, result)
    headers = {key: str(value) for key, value in (result.get("headers") or {}).items()
               if key.lower() != "content-type"}
    body = result.get("body")
    return Answer(int(result.get("statusCode", 200)), body, headers)
