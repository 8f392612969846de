"""API gateway routes: created after the actions they call, read and deleted one operation at a
time, through the apimgmt actions (tools/deploy/gateway.py).

A route is no REST entity: it lives in the gateway tenant of the AUTH key, under its base
path, and carries no annotation. Whose it is, only its ``x-openwhisk`` action says: the
project's routes are those that call an action in one of the project's packages, in its
namespace. Nobody else's route is touched: not overwritten without ``--adopt``, never pruned,
and a prune deletes one operation of one path, never a whole base path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tools.deploy import gateway
from tools.deploy.client import Call, Client, Entity, OpenWhiskError
from tools.deploy.credentials import OWN_NAMESPACE
from tools.deploy.entity_types.base import (
    Desired,
    EntityType,
    Owned,
    PlanContext,
    annotation_map,
    owner,
)
from tools.manifest import Manifest
from tools.manifest.model import Route

if TYPE_CHECKING:
    from tools.deploy.sync import Syncer

SECURE_KEY = "require-whisk-auth"


@dataclass(frozen=True)
class RouteEntity(Entity):
    """One operation of one path of an API: what a route is to the deploy."""

    basepath: str = ""
    relpath: str = ""
    method: str = ""
    package: str = field(default="", compare=False)  # the package of the action it calls

    def __str__(self) -> str:
        return f"route {self.method} {self.basepath.rstrip('/')}{self.relpath}"

    def path(self, namespace: str) -> str:
        """The call that deletes it (deleteApi of this operation alone)."""
        return gateway.delete_call(self.basepath, self.relpath, self.method, {}).target()


def route_entity(basepath: str, relpath: str, method: str, package: str) -> RouteEntity:
    return RouteEntity("routes", f"{method} {basepath} {relpath}", "route", basepath, relpath,
                       method, package)


def _entity(route: Route) -> RouteEntity:
    return route_entity(route.basepath, route.relpath, route.method, route.action.split("/")[0])


class RouteType(EntityType):
    name = "route"
    collection = "routes"

    def desired(self, context: PlanContext) -> list[Desired]:
        packages = [package.name for package in context.manifest.packages]
        return [Desired(self, _entity(route),
                        {"route": route, "namespace": context.namespace, "packages": packages},
                        {}, f" (-> {route.action}, {route.response})")
                for route in context.manifest.routes()]

    def declared(self, manifest: Manifest) -> list[Owned]:
        return [Owned(self, _entity(route)) for route in manifest.routes()]

    def read(self, client: Client, entity: Entity, namespace: str) -> dict[str, Any] | None:
        assert isinstance(entity, RouteEntity)
        held = (gateway.held_routes(client, entity.basepath) or {}).get(
            (entity.basepath, entity.relpath, entity.method))
        return None if held is None else asdict(held)

    def same(self, desired: Desired, held: Mapping[str, Any]) -> bool:
        route: Route = desired.body["route"]
        package, _, action = route.action.partition("/")
        return (held.get("namespace"), held.get("package"), held.get("action"),
                held.get("response")) == (desired.body["namespace"], package, action,
                                          route.response)

    def write(self, syncer: Syncer, desired: Desired, held: Mapping[str, Any] | None) -> None:
        route: Route = desired.body["route"]
        namespace = desired.body["namespace"]
        if held is not None and not syncer.adopt and not (
                held.get("namespace") == namespace
                and held.get("package") in desired.body["packages"]):
            raise OpenWhiskError(str(desired.entity), None, (
                f"it calls /{held.get('namespace')}/{held.get('package')}/{held.get('action')}, "
                "no action of this project; not overwritten. Deploy with --adopt to make it "
                "this project's"))
        # As wsk does: the action as deployed, whose require-whisk-auth the gateway must send.
        action = syncer.client.get(Entity("actions", route.action), namespace)
        secure_key = annotation_map(action or {}).get(SECURE_KEY)
        gateway.create(syncer.client, route, namespace,
                       None if secure_key in (None, False) else secure_key, str(desired.entity))

    def owned(self, syncer: Syncer, project: str) -> list[Owned]:
        """The routes that call an action in one of the project's packages (found by their
        ``whisk-managed`` annotation), in its namespace."""
        packages = {str(entry.get("name")) for entry in syncer.listed("packages")
                    if owner(entry) == project}
        held = gateway.held_routes(syncer.client) if packages else None
        namespace = _namespace(syncer)
        return [Owned(self, route_entity(basepath, relpath, method, route.package))
                for (basepath, relpath, method), route in (held or {}).items()
                if route.namespace == namespace and route.package in packages]

    def remove(self, syncer: Syncer, owned: Owned) -> bool:
        """Deletes the one operation, if the gateway still has it calling the package's action;
        False when it is gone (or is no longer this project's: it is left alone)."""
        entity = owned.entity
        assert isinstance(entity, RouteEntity)
        held = self.read(syncer.client, entity, syncer.namespace)
        if held is None or (held["namespace"], held["package"]) != (_namespace(syncer),
                                                                    entity.package):
            return False
        gateway.delete(syncer.client, entity.basepath, entity.relpath, entity.method,
                       str(entity))
        return True

    def shown_call(self, desired: Desired, apihost: str, namespace: str) -> Call:
        """createApi as a deploy sends it, the AUTH key and access token masked."""
        params = {"accesstoken": gateway.SHOWN_TOKEN, "spaceguid": "<the AUTH key's uuid>"}
        return gateway.create_call(desired.body["route"], apihost, namespace, gateway.SHOWN_AUTH,
                                   params)

    def url(self, held: Mapping[str, Any]) -> str:
        return str(held.get("url") or "")


def _namespace(syncer: Syncer) -> str:
    """The real namespace, which a route's ``x-openwhisk`` names (``_`` is only an alias)."""
    return syncer.client.namespace() if syncer.namespace == OWN_NAMESPACE else syncer.namespace


def made_web_warnings(manifest: Manifest) -> list[str]:
    """wskdeploy's warning, for each action a route made a web action."""
    found = {route.action: route.api for route in manifest.routes() if route.made_web}
    return [f"Warning: {name} is not a web action (it has no web key), and API {api} can only "
            f"call a web action: deployed as one (web: yes), as wskdeploy does"
            for name, api in found.items()]


def route_urls(say: Callable[[str], None], client: Client, manifest: Manifest) -> None:
    """Each route and the gateway URL it answers at, as the gateway gives it."""
    routes = manifest.routes()
    held: dict[tuple[str, str, str], gateway.HeldRoute] = {}
    for basepath in dict.fromkeys(route.basepath for route in routes):
        held.update(gateway.held_routes(client, basepath) or {})
    if routes:
        say("API routes:")
    for route in routes:
        found = held.get((route.basepath, route.relpath, route.method))
        say(f"  {route.method} {route.path} -> {route.action}: "
            f"{found.url if found else '(not on the gateway)'}")


def dry_run_routes(say: Callable[[str], None], manifest: Manifest, apihost: str) -> None:
    """What a dry run says of the routes: which, and how a prune deletes one."""
    routes = manifest.routes()
    if not routes:
        return
    say("API routes (the gateway gives their URLs once they are created):")
    for route in routes:
        say(f"  {route.method} {route.path} -> {route.action} ({route.response})")
    say(f"A route of this project that the manifest no longer has is deleted alone: DELETE "
        f"{apihost}{gateway.APIMGMT}/deleteApi.http?basepath=B&relpath=R&operation=M "
        "(never its whole base path).")
