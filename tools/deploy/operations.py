"""The deploy tool's operations: render, build, deploy and undeploy, each with its report.

A deploy checks everything it can before sending anything: the manifest and
its variables, the zips and their sizes, then that the server runs the kinds
asked for. Then it brings each entity to the manifest in order (packages and
bindings, actions, sequences, triggers and feeds, rules), one progress line
each, prunes what the project owns and the manifest dropped, and stops at the
first refusal with a report of what was done, what failed and what was not
attempted. ``--dry-run`` builds the same requests and prints them instead. The
AUTH key and secret inputs are masked in every line printed.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from lib.credentials import IDENTITY_FIELDS
from lib.redact import is_secret_name
from tools.deploy import adobe_auth
from tools.deploy.client import Call, Entity, OpenWhiskError, web_url
from tools.deploy.credentials import OWN_NAMESPACE, Credentials
from tools.deploy.entity_types import ConfigError
from tools.deploy.entity_types.apis import dry_run_routes, made_web_warnings, route_urls
from tools.deploy.plan import BuildOptions, Built, build_artifacts, build_project, plan
from tools.deploy.sync import Progress, Syncer, declared, feed_calls, sync
from tools.deploy.target import (
    Connection,
    Console,
    Target,
    credentials_for,
    project_secrets,
)
from tools.errors import EXIT_FAILED, EXIT_OK
from tools.manifest import Manifest, render
from tools.manifest.model import LIMIT_RANGES
from tools.runtimes.kinds import STOCK_DEFAULTS
from tools.runtimes.python.build import write_zips
from tools.textfile import write_private


@dataclass(frozen=True)
class Options(Connection):
    """Where to deploy, and how."""

    dry_run: bool = False
    vendor: bool = False
    pip_args: tuple[str, ...] = ()
    project: str | None = None  # wins over the manifest's
    force: bool = False  # send every entity, changed or not
    prune: bool = True  # delete what the project owns and the manifest no longer has
    adopt: bool = False  # overwrite what another project owns, making it ours
    no_adobe_auth: bool = False  # deploy require-adobe-auth actions without it, off Adobe's host

    @property
    def build(self) -> BuildOptions:
        """A dry run imports no project code: nothing of it may run while nothing is sent."""
        return BuildOptions(self.vendor, self.pip_args, load_check=not self.dry_run)


def render_manifest(manifest: Manifest, env: Mapping[str, str], *, show_secrets: bool = False,
                    output: pathlib.Path | None = None, out: TextIO | None = None) -> int:
    """Prints the resolved manifest, or writes it to ``output`` readable by the owner only.

    Unless ``show_secrets``, secrets are masked by their key's name and, as in every
    line deploy prints, by their value wherever else it appears (the AUTH key too).
    """
    out = out or sys.stdout
    for note in offline_notes(manifest):  # beside the YAML, which stays a manifest
        print(f"note: {note}", file=sys.stderr)
    text = render(manifest, show_secrets=show_secrets)
    if not show_secrets:
        credentials = credentials_for(env, Connection(), optional=True)
        text = project_secrets(manifest, credentials).mask(text)
    if output is None:
        out.write(text)
        return EXIT_OK
    write_private(output, text)
    print(f"wrote {output} (mode 0600)", file=out)
    return EXIT_OK


def offline_notes(manifest: Manifest) -> list[str]:
    """What a look at the manifest alone can tell: its warnings, each kind that stands in for
    a server's default, and each limit outside stock OpenWhisk's range (a server may allow
    more: App Builder's hosts take 600000 ms and 2048 MB; a deploy asks the server)."""
    return [*manifest.warnings, *exposed_secrets(manifest),
            *(f"{action.qualified_name}: {action.kind} is stock OpenWhisk's default "
              f"{action.default_of} kind, standing in for the server's (a deploy asks it)"
              for action in manifest.actions() if action.default_of in STOCK_DEFAULTS),
            *(f"{manifest.path.name}: {problem} on stock OpenWhisk; the server decides"
              for action in manifest.actions()
              for problem in action.limits.outside(LIMIT_RANGES))]


def check_identity(manifest: Manifest) -> None:
    """An identity input an action needs, deployed empty, fails every call with a 400 about
    missing credentials: refused before anything is sent (``.env.example`` leaves them so)."""
    empty = [f"{action.qualified_name}: {name}" for action in manifest.actions()
             for name, value in manifest.parameters(action).items()
             if name in IDENTITY_FIELDS and value == ""]
    if empty:
        raise ConfigError("identity inputs set to an empty value (fill them in .env or the "
                          "shell): " + ", ".join(empty))


def exposed_secrets(manifest: Manifest) -> list[str]:
    """Web actions whose deployed inputs hold a secret (by its name) that any caller could
    override: not final, and not an init input."""
    found = []
    for action in manifest.actions():
        annotations = action.all_annotations()
        if not annotations.get("web-export") or annotations.get("final") is True:
            continue
        names = sorted(name for name in manifest.parameters(action)
                       if is_secret_name(name) and name not in action.init_inputs)
        if names:
            found.append(f"{action.qualified_name}: a web action without final: true, so any "
                         f"caller can override {', '.join(names)}; add final: true, or make "
                         "them init inputs")
    return found


def build(manifest: Manifest, out_dir: pathlib.Path, options: BuildOptions | None = None,
          out: TextIO | None = None) -> int:
    zips = build_artifacts(manifest, options or BuildOptions())
    for built, path in zip(zips, write_zips(zips, out_dir), strict=True):
        print(f"built {path} ({len(built.data)} bytes, sha256 {built.sha256[:12]})",
              file=out or sys.stdout)
    return EXIT_OK


def deploy(manifest: Manifest, env: Mapping[str, str], options: Options = Options(),
           out: TextIO | None = None) -> int:
    """Brings the namespace to the manifest, entity by entity; the exit status."""
    credentials = credentials_for(env, options, optional=options.dry_run)
    console = Console(out, project_secrets(manifest, credentials))
    manifest, warnings = adobe_auth.for_host(manifest, credentials.apihost if credentials
                                             else "https://APIHOST",
                                             without=options.no_adobe_auth)
    for warning in warnings:
        console.line(f"Warning: {warning}")
    built = build_project(manifest, project_name(manifest, options), options.build)
    if options.dry_run or credentials is None:
        return _dry_run(manifest, built, credentials, console)
    check_identity(manifest)
    plan(manifest, built.artifacts, OWN_NAMESPACE, built.managed)  # every size checked first
    target = Target(credentials, manifest, options, console=console)
    namespace = target.connect()
    if target.manifest != manifest:  # the server's default kind for a family: built for it
        manifest = target.manifest
        built = build_project(manifest, built.project, options.build)
    desired = plan(manifest, built.artifacts, namespace, built.managed)
    console.line(f"Deploying project {built.project} to {target.described()}")
    for warning in (*manifest.warnings, *exposed_secrets(manifest)):
        console.line(f"Warning: {warning}")
    for warning in made_web_warnings(manifest):
        console.line(warning)
    progress = Progress()
    try:
        sync(Syncer(target.client, namespace, force=options.force, adopt=options.adopt),
             desired, built.project,
             prune=prunes(manifest, options), progress=progress,
             show=lambda outcome, entity, note: console.line(f"  {outcome:<9} {entity}{note}"))
    except OpenWhiskError as exc:
        console.line(f"  FAILED    {exc}")
        _failure_report(console, "Deploy", progress.tally.done, exc, progress.rest)
        return EXIT_FAILED
    except KeyboardInterrupt:
        _failure_report(console, "Deploy", progress.tally.done, f"{progress.current}: "
                        "interrupted (it may or may not have been stored; run deploy again)",
                        progress.rest)
        raise
    if options.prune and not prunes(manifest, options):
        console.line(NOT_PRUNING)
    web_urls(console, manifest, credentials.apihost, namespace)
    route_urls(console.line, target.client, manifest)
    console.line(f"Deployed project {built.project}: {progress.tally.summary()}.")
    return EXIT_OK


def project_name(manifest: Manifest, options: Options) -> str:
    return options.project or manifest.project or manifest.root.name


def prunes(manifest: Manifest, options: Options) -> bool:
    """Pruning deletes by project name: only with a name given, never one guessed from the
    folder, which two unrelated projects could share."""
    return options.prune and bool(options.project or manifest.project)


NOT_PRUNING = ("Not pruning: the project has no name of its own (set project.name, the App "
               "Builder app's name in package.json, or --project)")


def undeploy(manifest: Manifest | None, env: Mapping[str, str], options: Options = Options(),
             out: TextIO | None = None) -> int:
    """Deletes the manifest's entities, or with ``options.project`` everything that project
    owns, rules first and packages last; ones already gone are fine."""
    credentials = credentials_for(env, options, optional=options.dry_run)
    console = Console(out, project_secrets(manifest, credentials))
    if options.dry_run or credentials is None:
        apihost, namespace = _shown_target(credentials, console)
        if manifest is None:
            console.line(f"GET {apihost}/api/v1/namespaces/{namespace}/… (every entity whose "
                         f"whisk-managed annotation names project {options.project})")
        for owned in declared(manifest) if manifest is not None else []:
            console.line(f"DELETE {apihost}{owned.entity.path(namespace)}  ({owned.entity})")
        return EXIT_OK
    target = Target(credentials, manifest, options, console=console)
    syncer = Syncer(target.client, credentials.namespace)
    console.line(f"Undeploying from {credentials.apihost}, namespace {credentials.namespace} "
                 f"(credentials from {credentials.source})")
    if manifest is None:
        targets = syncer.owned(options.project or "")
    else:
        targets = [owned.type.as_held(syncer, owned) for owned in declared(manifest)]
    done: list[Entity] = []
    absent = 0
    for index, owned in enumerate(targets):
        try:
            existed = syncer.remove(owned)
        except OpenWhiskError as exc:
            console.line(f"  FAILED  {exc}")
            _failure_report(console, "Undeploy", done, exc,
                            [other.entity for other in targets[index + 1:]])
            return EXIT_FAILED
        console.line(f"  deleted {owned.entity}" if existed
                     else f"  absent  {owned.entity} (already gone)")
        done.append(owned.entity)
        absent += not existed
    console.line(f"Undeployed: {len(done) - absent} deleted, {absent} already gone.")
    return EXIT_OK


def _dry_run(manifest: Manifest, built: Built, credentials: Credentials | None,
             console: Console) -> int:
    apihost, namespace = _shown_target(credentials, console)
    for note in offline_notes(manifest):
        console.line(f"Note: {note}")
    kinds = ", ".join(sorted({action.kind for action in manifest.actions()}))
    console.line(f"GET {apihost}/  (checks that the server runs {kinds})")
    if namespace == OWN_NAMESPACE:
        console.line(f"GET {apihost}/api/v1/namespaces  (the namespace for the web URLs)")

    def show(call: Call, what: str, body: Mapping[str, Any]) -> None:
        console.line(f"{call.method} {apihost}{call.target()}  ({what})")
        console.line(json.dumps(body, indent=2, ensure_ascii=False))

    desired = plan(manifest, built.artifacts, namespace, built.managed)
    for warning in made_web_warnings(manifest):
        console.line(warning)
    for item in desired:
        call = item.type.shown_call(item, apihost, namespace)
        show(call, str(item.entity), call.body or {})
    feed_calls(desired, namespace, show)
    console.line("A deploy reads each entity first and sends only what differs; it then deletes "
                 f"what project {built.project} owns and the manifest no longer has.")
    web_urls(console, manifest, apihost, namespace)
    dry_run_routes(console.line, manifest, apihost)
    return EXIT_OK


def _shown_target(credentials: Credentials | None, console: Console) -> tuple[str, str]:
    """The host and namespace a dry run shows, placeholders when none are configured."""
    if credentials is None:
        console.line("Dry run: nothing is sent. No OpenWhisk credentials were found, so the "
                     "requests show the host APIHOST and namespace _.")
        return "https://APIHOST", OWN_NAMESPACE
    console.line(f"Dry run: nothing is sent. Target {credentials.apihost}, namespace "
                 f"{credentials.namespace} (credentials from {credentials.source}).")
    return credentials.apihost, credentials.namespace


def web_entity_urls(manifest: Manifest, apihost: str, namespace: str) -> dict[str, str]:
    """Each web action's and web sequence's URL, by its qualified name."""
    return {entity.qualified_name: web_url(apihost, namespace, entity.package, entity.name)
            for entity in (*manifest.actions(), *manifest.sequences()) if entity.web != "no"}


def web_urls(console: Console, manifest: Manifest, apihost: str, namespace: str) -> None:
    urls = web_entity_urls(manifest, apihost, namespace)
    if urls:
        console.line("Web actions:")
        for name, url in urls.items():
            console.line(f"  {name}: {url}")


def _failure_report(console: Console, operation: str, done: Sequence[Entity],
                    failure: OpenWhiskError | str, rest: Sequence[Entity]) -> None:
    console.line(f"{operation} failed.")
    console.line(f"  done:          {_names(done)}")
    console.line(f"  failed:        {failure}")
    console.line(f"  not attempted: {_names(rest)}")


def _names(entities: Sequence[Entity]) -> str:
    return ", ".join(str(entity) for entity in entities) or "nothing"
