"""A package's ``apis:``: API gateway routes, as wskdeploy and App Builder both write them.

``API_NAME: {BASE_PATH: {REL_PATH: {ACTION: {method, response}}}}``, under a package
(wskdeploy's ``packages.<pkg>.apis``, App Builder's ``runtimeManifest.packages.<pkg>.apis``).
Everything the API gateway or the deploy would refuse half-way is refused here, by its
manifest path: a route to an action or sequence that is not in the package, or to one
with ``web: no``; a path parameter (``{isbn}``) on a route that is not ``http``, as the
gateway requires; the same route twice. An action with no ``web`` key that a route calls is
made a web action, as wskdeploy does (the deploy says so).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tools.manifest.model import Action, ActionSequence, Route
from tools.manifest.reader import FieldReader

if TYPE_CHECKING:
    from tools.manifest.entities import Draft

METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")
RESPONSES = ("json", "http", "text", "html", "svg")  # the web-action extensions
ROUTE_KEYS = ("method", "response")
PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What a gateway path may hold: RFC 3986 path characters, and {name} parameters.
PATH_CHARACTERS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/{}-]+")
WEB_KEYS = ("web", "web-export")

Entity = Action | ActionSequence


def path_parameters(relpath: str) -> list[str]:
    """The distinct ``{name}`` parameters of a relative path, in order."""
    return list(dict.fromkeys(PARAMETER.findall(relpath)))


def read_routes(reader: FieldReader, draft: Draft, body: Mapping[str, Any], where: str,
                places: dict[tuple[str, str, str], str]) -> None:
    """Reads ``body['apis']`` into the routes of ``draft`` 's actions and sequences; ``places``
    holds every route of the project read so far (base path, rel path, method) by its manifest
    path, so that one declared twice is refused naming both."""
    entities: dict[str, tuple[Entity, list[Route]]] = {
        entity.name: (entity, []) for entity, _ in (*draft.actions, *draft.sequences)}
    here: dict[tuple[str, str, str], tuple[list[Route], Route]] = {}  # this package's routes
    for api, bases in reader.mapping(body.get("apis"), f"{where}.apis").items():
        at_api = f"{where}.apis.{api}"
        reader.text(api, at_api, "an API name")
        for base, paths in reader.mapping(bases, at_api).items():
            at_base = f"{at_api}.{base}"
            basepath = _path(reader, base, at_base, "base path")
            if PARAMETER.search(basepath):
                raise reader.fault(at_base, f"the base path ({basepath}) cannot have parameters. "
                                            "Only the relative path supports path parameters.")
            for rel, targets in reader.mapping(paths, at_base).items():
                at_rel = f"{at_base}.{rel}"
                relpath = _path(reader, rel, at_rel, "relative path")
                for name, spec in reader.mapping(targets, at_rel).items():
                    at = f"{at_rel}.{name}"
                    if name not in entities:
                        known = ", ".join(entities) or "none"
                        raise reader.fault(at, f"unknown action {name!r}: a route calls an action "
                                               f"or sequence of package {draft.name!r} declared "
                                               f"here (its own: {known})")
                    entity, routes = entities[name]
                    route = _route(reader, spec, at, api, basepath, relpath,
                                   f"{draft.name}/{name}", _made_web(reader, entity, body, at))
                    key = (route.basepath, route.relpath, route.method)
                    if key in here:  # the gateway keeps the last one, as wskdeploy sends both
                        earlier_routes, earlier = here[key]
                        earlier_routes.remove(earlier)
                        reader.warn(f"{reader.place(at)}: route {route.method} {route.path} "
                                    f"is also declared at {reader.place(places[key])}; this "
                                    "one wins, as it would at the gateway")
                    elif key in places:
                        raise reader.fault(at, f"route {route.method} {route.path} is also "
                                               f"declared at {reader.place(places[key])}")
                    places[key] = at
                    here[key] = (routes, route)
                    routes.append(route)
    draft.actions = [(_with_routes(action, entities[action.name][1]), at)
                     for action, at in draft.actions]
    draft.sequences = [(_with_routes(sequence, entities[sequence.name][1]), at)
                       for sequence, at in draft.sequences]


def _with_routes(entity: Entity, routes: list[Route]) -> Any:
    """``entity`` with ``routes`` added, a web action if one of them made it one."""
    if not routes:
        return entity
    web = "yes" if any(route.made_web for route in routes) else entity.web
    return replace(entity, web=web, web_given=entity.web_given or web != entity.web,
                   routes=(*entity.routes, *routes))


def _path(reader: FieldReader, text: str, where: str, what: str) -> str:
    """A base or relative path with its leading ``/`` (added when missing, as both tools do)."""
    path = text.strip()
    if not path or not PATH_CHARACTERS.fullmatch(path) or "//" in path:
        raise reader.fault(where, f"{text!r} is not a {what}: letters, digits, - . _ ~ and "
                                  "/-separated segments, e.g. /club or /books/{isbn}")
    if re.sub(PARAMETER, "", path).count("{") or re.sub(PARAMETER, "", path).count("}"):
        raise reader.fault(where, f"{text!r}: a path parameter is {{name}}, a letter or _ "
                                  "then letters, digits or _")
    return path if path.startswith("/") else "/" + path


def _route(reader: FieldReader, spec: Any, where: str, api: str, basepath: str, relpath: str,
           action: str, made_web: bool) -> Route:
    body = reader.mapping(spec, where, ROUTE_KEYS)
    method = body.get("method")
    if not isinstance(method, str) or method.strip().upper() not in METHODS:
        raise reader.fault(f"{where}.method", f"is required: one of {', '.join(METHODS)}, not "
                                              f"{method!r}")
    response = body.get("response")
    parameters = path_parameters(relpath)
    if response is None:
        response = "http" if parameters else "json"  # the gateway passes parameters to http only
    if not isinstance(response, str) or response.strip().lower() not in RESPONSES:
        raise reader.fault(f"{where}.response", f"must be one of {', '.join(RESPONSES)}, not "
                                                f"{response!r}")
    response = response.strip().lower()
    if parameters and response != "http":
        raise reader.fault(f"{where}.response", f"is {response}, but {relpath} has path "
                                                "parameters: the action must use a response "
                                                "type of 'http' in order to receive them")
    return Route(api, basepath, relpath, method.strip().upper(), response, action, made_web)


def _made_web(reader: FieldReader, entity: Entity, body: Mapping[str, Any], where: str) -> bool:
    """True when the route makes ``entity`` a web action (it says nothing of web); a fault
    when it says it is not one."""
    kind = "actions" if isinstance(entity, Action) else "sequences"
    spec = (body.get(kind) or {}).get(entity.name)
    said = isinstance(spec, dict) and any(key in spec for key in WEB_KEYS)
    exported = entity.annotations.get("web-export")
    if not said and exported is None:
        return True
    if exported is False or (exported is None and entity.web == "no"):
        raise reader.fault(where, f"{kind[:-1]} {entity.name!r} is not a web action (web: no), "
                                  "and a route can only call a web action: set web: yes or "
                                  "remove web: no")
    return False
