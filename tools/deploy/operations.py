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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from lib import http
from lib._redact import KnownSecrets, secret_values
from tools.deploy.build import ActionZip, build_zips, write_zips
from tools.deploy.client import RETRIES, Call, Client, Entity, OpenWhiskError, put
from tools.deploy.credentials import OWN_NAMESPACE, Credentials, CredentialsError, find_credentials
from tools.deploy.plan import ConfigError, Desired, managed_annotation, plan, web_url
from tools.deploy.sync import Owned, Syncer, Tally, feed_calls
from tools.errors import EXIT_FAILED, EXIT_OK
from tools.manifest import Action, Manifest, render
from tools.manifest.model import Sequence as SequenceEntity
from tools.textfile import write_private


@dataclass(frozen=True)
class Options:
    """Where to deploy, and how; the flags win over ``AIO_RUNTIME_*`` and ``~/.wskprops``."""

    apihost: str | None = None
    auth: str | None = field(default=None, repr=False)
    namespace: str | None = None
    dry_run: bool = False
    vendor: bool = False
    pip_args: tuple[str, ...] = ()
    retry: http.RetryPolicy = RETRIES
    project: str | None = None  # wins over the manifest's
    force: bool = False  # send every entity, changed or not
    prune: bool = True  # delete what the project owns and the manifest no longer has
    allow_http: bool = False  # an http:// APIHOST off loopback: the AUTH key in clear



class Console:
    """Lines for the user, with every known secret value masked."""

    def __init__(self, out: TextIO | None, secrets: KnownSecrets) -> None:
        self.out = out or sys.stdout
        self.secrets = secrets

    def line(self, text: str) -> None:
        print(self.secrets.mask(text), file=self.out, flush=True)


def render_manifest(manifest: Manifest, env: Mapping[str, str], *, show_secrets: bool = False,
                    output: pathlib.Path | None = None, out: TextIO | None = None) -> int:
    """Prints the resolved manifest, or writes it to ``output`` readable by the owner only.

    Unless ``show_secrets``, secrets are masked by their key's name and, as in every
    line deploy prints, by their value wherever else it appears (the AUTH key too).
    """
    out = out or sys.stdout
    text = render(manifest, show_secrets=show_secrets)
    if not show_secrets:
        text = _secrets(manifest, _credentials(env, Options(dry_run=True))).mask(text)
    if output is None:
        out.write(text)
        return EXIT_OK
    write_private(output, text)
    print(f"wrote {output} (mode 0600)", file=out)
    return EXIT_OK


def build(manifest: Manifest, out_dir: pathlib.Path, *, vendor: bool = False,
          pip_args: Sequence[str] = (), out: TextIO | None = None) -> int:
    zips = build_zips(manifest, vendor=vendor, pip_args=pip_args)
    for built, path in zip(zips, write_zips(zips, out_dir), strict=True):
        print(f"built {path} ({len(built.data)} bytes, sha256 {built.sha256[:12]})",
              file=out or sys.stdout)
    return EXIT_OK


def deploy(manifest: Manifest, env: Mapping[str, str], options: Options = Options(),
           out: TextIO | None = None) -> int:
    """Brings the namespace to the manifest, entity by entity; the exit status."""
    credentials = _credentials(env, options)
    console = Console(out, _secrets(manifest, credentials))
    built = build_project(manifest, options)
    if options.dry_run or credentials is None:
        return _dry_run(manifest, built.zips, credentials, console, built.managed)
    plan(manifest, built.zips, OWN_NAMESPACE, built.managed)  # every limit checked first
    client = Client(credentials, policy=options.retry)
    namespace = connect(client, manifest, credentials)
    desired = plan(manifest, built.zips, namespace, built.managed)
    project = built.project
    console.line(f"Deploying project {project} to {credentials.apihost}, namespace "
                 f"{namespace} (credentials from {credentials.source})")
    syncer = Syncer(client, namespace, force=options.force)
    progress = Progress()
    try:
        sync(syncer, desired, project, prune=prunes(manifest, options), progress=progress,
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
    _web_urls(console, manifest, credentials.apihost, namespace)
    console.line(f"Deployed project {project}: {progress.tally.summary()}.")
    return EXIT_OK


@dataclass(frozen=True)
class Built:
    """A project's zips, its name and the ``whisk-managed`` annotation that marks its entities."""

    project: str
    managed: dict[str, str]
    zips: list[ActionZip]


def build_project(manifest: Manifest, options: Options) -> Built:
    """The zips of every action, and who owns what the manifest deploys."""
    zips = build_zips(manifest, vendor=options.vendor, pip_args=options.pip_args)
    project = project_name(manifest, options)
    return Built(project, managed_annotation(project, manifest, manifest.path.read_bytes()),
                 list(zips))


def project_name(manifest: Manifest, options: Options) -> str:
    return options.project or manifest.project or manifest.root.name


def prunes(manifest: Manifest, options: Options) -> bool:
    """Pruning deletes by project name: only with a name given, never one guessed from the
    folder, which two unrelated projects could share."""
    return options.prune and bool(options.project or manifest.project)


NOT_PRUNING = ("Not pruning: the project has no name of its own (set project.name, the App "
               "Builder app's name in package.json, or --project)")


def connect(client: Client, manifest: Manifest, credentials: Credentials) -> str:
    """Checks that the server runs the manifest's kinds; the real namespace."""
    _check_kinds(client, manifest)
    return _namespace(client, credentials)


@dataclass
class Progress:
    """How far a :func:`sync` got: what it did, the entity at hand, what is left."""

    tally: Tally = field(default_factory=Tally)
    current: Entity | None = None
    rest: list[Entity] = field(default_factory=list)


def sync(syncer: Syncer, desired: Sequence[Desired], project: str, *, prune: bool,
         progress: Progress, show: Callable[[str, Entity, str], None]) -> None:
    """Brings each entity to the manifest, then prunes what ``project`` owns and the manifest
    no longer has; ``show`` hears each outcome. Raises OpenWhiskError at the first refusal,
    with ``progress`` saying what was done and what was not attempted."""
    wanted = {(item.entity.collection, item.entity.name) for item in desired}
    progress.rest = [item.entity for item in desired]
    for item in desired:
        progress.current = progress.rest.pop(0)
        outcome = syncer.apply(item)
        progress.tally.add(outcome, progress.current)
        show(outcome, item.entity, item.note)
    if prune:
        stale = [owned for owned in syncer.owned(project)
                 if (owned.entity.collection, owned.entity.name) not in wanted]
        progress.rest = [owned.entity for owned in stale]
        for owned in stale:
            progress.current = progress.rest.pop(0)
            syncer.remove(owned)
            progress.tally.add("pruned", progress.current)
            show("pruned", owned.entity, "")


def undeploy(manifest: Manifest | None, env: Mapping[str, str], options: Options = Options(),
             out: TextIO | None = None) -> int:
    """Deletes the manifest's entities, or with ``options.project`` everything that project
    owns, rules first and packages last; ones already gone are fine."""
    credentials = _credentials(env, options)
    console = Console(out, _secrets(manifest, credentials))
    if options.dry_run or credentials is None:
        apihost, namespace = _shown_target(credentials, console)
        if manifest is None:
            console.line(f"GET {apihost}/api/v1/namespaces/{namespace}/… (every entity whose "
                         f"whisk-managed annotation names project {options.project})")
        for owned in _manifest_entities(manifest):
            console.line(f"DELETE {apihost}{owned.entity.path(namespace)}  ({owned.entity})")
        return EXIT_OK
    client = Client(credentials, policy=options.retry)
    syncer = Syncer(client, credentials.namespace)
    console.line(f"Undeploying from {credentials.apihost}, namespace {credentials.namespace} "
                 f"(credentials from {credentials.source})")
    if manifest is None:
        targets = syncer.owned(options.project or "")
    else:
        targets = [Owned(owned.entity, syncer.held_feed(owned.entity) if owned.feed else None)
                   for owned in _manifest_entities(manifest)]
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


def _manifest_entities(manifest: Manifest | None) -> list[Owned]:
    """The manifest's entities in the order they are deleted (a trigger's feed noted)."""
    if manifest is None:
        return []
    entities = [*(Owned(Entity("rules", rule.name)) for rule in manifest.rules),
                *(Owned(Entity("triggers", trigger.name), trigger.feed)
                  for trigger in manifest.triggers),
                *(Owned(Entity("actions", s.qualified_name, "sequence"))
                  for s in manifest.sequences()),
                *(Owned(Entity("actions", action.qualified_name))
                  for action in manifest.actions()),
                *(Owned(Entity("packages", binding.name, "binding"))
                  for binding in manifest.bindings),
                *(Owned(Entity("packages", package.name)) for package in manifest.packages)]
    return entities


def _credentials(env: Mapping[str, str], options: Options) -> Credentials | None:
    """The target; a dry run does without when none are configured."""
    try:
        return find_credentials(env, apihost=options.apihost, auth=options.auth,
                                namespace=options.namespace, allow_http=options.allow_http)
    except CredentialsError:
        if options.dry_run:
            return None
        raise


def _check_kinds(client: Client, manifest: Manifest) -> None:
    kinds = client.kinds()
    for action in manifest.actions():
        if action.kind not in kinds:
            python = ", ".join(sorted(k for k in kinds if k.startswith("python:"))) or "none"
            raise ConfigError(f"action {action.qualified_name}: {client.credentials.apihost} "
                              f"does not run {action.kind} (its Python kinds: {python}); "
                              "change runtime in the manifest")


def _namespace(client: Client, credentials: Credentials) -> str:
    """The real namespace, which web URLs and fully qualified names need (``_`` is only an
    alias in REST paths). Asked before any PUT, so wrong credentials stop the deploy first."""
    if credentials.namespace != OWN_NAMESPACE:
        return credentials.namespace
    return client.namespace()


def _dry_run(manifest: Manifest, zips: Sequence[ActionZip], credentials: Credentials | None,
             console: Console, managed: Mapping[str, str]) -> int:
    apihost, namespace = _shown_target(credentials, console)
    kinds = ", ".join(sorted({action.kind for action in manifest.actions()}))
    console.line(f"GET {apihost}/  (checks that the server runs {kinds})")
    if namespace == OWN_NAMESPACE:
        console.line(f"GET {apihost}/api/v1/namespaces  (the namespace for the web URLs)")

    def show(call: Call, what: str, body: Mapping[str, Any]) -> None:
        console.line(f"{call.method} {apihost}{call.target()}  ({what})")
        console.line(json.dumps(body, indent=2, ensure_ascii=False))

    desired = plan(manifest, zips, namespace, managed)
    for item in desired:
        show(put(item.entity, namespace, item.body), str(item.entity), item.shown)
    feed_calls(desired, namespace, show)
    console.line("A deploy reads each entity first and sends only what differs; it then deletes "
                 f"what project {managed['projectName']} owns and the manifest no longer has.")
    _web_urls(console, manifest, apihost, namespace)
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


def _web_entities(manifest: Manifest) -> list[Action | SequenceEntity]:
    return [entity for entity in (*manifest.actions(), *manifest.sequences())
            if entity.web != "no"]


def _web_urls(console: Console, manifest: Manifest, apihost: str, namespace: str) -> None:
    if _web_entities(manifest):
        console.line("Web actions:")
        for entity in _web_entities(manifest):
            console.line(f"  {entity.qualified_name}: {web_url(apihost, namespace, entity)}")


def _failure_report(console: Console, operation: str, done: Sequence[Entity],
                    failure: OpenWhiskError | str, rest: Sequence[Entity]) -> None:
    console.line(f"{operation} failed.")
    console.line(f"  done:          {_names(done)}")
    console.line(f"  failed:        {failure}")
    console.line(f"  not attempted: {_names(rest)}")


def _names(entities: Sequence[Entity]) -> str:
    return ", ".join(str(entity) for entity in entities) or "nothing"


class _EverySecret(KnownSecrets):
    """A tool's mask list: a project's secrets are few, and none may drop out, least of all
    the AUTH key (the action's list is bounded against hostile callers; a manifest is not)."""

    MAX_ENTRIES = sys.maxsize
    MAX_CHARS = sys.maxsize


def _secrets(manifest: Manifest | None, credentials: Credentials | None) -> KnownSecrets:
    """The values no printed line may show: the AUTH key, and every secret-named input or
    annotation (a string ``require-whisk-auth`` is a password)."""
    secrets = _EverySecret()
    if credentials is not None:
        secrets.add(credentials.auth)
        secrets.add(credentials.basic_auth[1])
    if manifest is None:
        return secrets
    values: list[dict[str, Any]] = [
        *(entity.inputs for entity in (*manifest.packages, *manifest.actions(),
                                       *manifest.triggers, *manifest.bindings)),
        *(entity.annotations for entity in (*manifest.packages, *manifest.actions(),
                                            *manifest.sequences(), *manifest.triggers,
                                            *manifest.bindings)),
        *(trigger.feed_inputs for trigger in manifest.triggers)]
    for value in (found for mapping in values for found in secret_values(mapping)):
        secrets.add(value)
    return secrets
