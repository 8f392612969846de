"""The deploy tool's operations: render, build, deploy and undeploy, each with its report.

A deploy checks everything it can before sending anything: the manifest and
its variables, the zips and their sizes, then that the server runs the kinds
asked for. Then it PUTs the packages and the actions, one progress line per
entity, and stops at the first refusal with a report of what was deployed,
what failed and what was not attempted. ``--dry-run`` builds the same
requests and prints them instead. The AUTH key and secret inputs are masked in
every line printed.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from lib import http
from lib._redact import KnownSecrets, secret_values
from tools.deploy.build import ActionZip, build_zips, write_zips
from tools.deploy.client import RETRIES, Client, Entity, OpenWhiskError
from tools.deploy.credentials import OWN_NAMESPACE, Credentials, CredentialsError, find_credentials
from tools.deploy.plan import ConfigError, deploy_steps, undeploy_entities, web_url
from tools.errors import EXIT_FAILED, EXIT_OK
from tools.manifest import Action, Manifest, render
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
    """Deploys every package and action of the manifest; the exit status."""
    credentials = _credentials(env, options)
    console = Console(out, _secrets(manifest, credentials))
    zips = build_zips(manifest, vendor=options.vendor, pip_args=options.pip_args)
    if options.dry_run or credentials is None:
        return _dry_run(manifest, zips, credentials, console)
    steps = deploy_steps(manifest, zips, credentials.namespace)
    client = Client(credentials, policy=options.retry)
    _check_kinds(client, manifest)
    namespace = _namespace(client, manifest, credentials)
    console.line(f"Deploying to {credentials.apihost}, namespace {namespace} "
                 f"(credentials from {credentials.source})")
    done: list[Entity] = []
    for index, step in enumerate(steps):
        try:
            client.send(step.call, str(step.entity))
        except OpenWhiskError as exc:
            console.line(f"  FAILED  {exc}")
            _failure_report(console, "Deploy", done, exc, [s.entity for s in steps[index + 1:]])
            return EXIT_FAILED
        except KeyboardInterrupt:
            _failure_report(console, "Deploy", done, f"{step.entity}: interrupted (it may or "
                            "may not have been stored; run deploy again)",
                            [s.entity for s in steps[index + 1:]])
            raise
        console.line(f"  ok      {step.entity}{step.note}")
        done.append(step.entity)
    _web_urls(console, manifest, credentials.apihost, namespace)
    console.line(f"Deployed {_count(manifest)}.")
    return EXIT_OK


def undeploy(manifest: Manifest, env: Mapping[str, str], options: Options = Options(),
             out: TextIO | None = None) -> int:
    """Deletes the manifest's actions, then its packages; ones already gone are fine."""
    credentials = _credentials(env, options)
    console = Console(out, _secrets(manifest, credentials))
    entities = undeploy_entities(manifest)
    if options.dry_run or credentials is None:
        apihost, namespace = _shown_target(credentials, console)
        for entity in entities:
            console.line(f"DELETE {apihost}{entity.path(namespace)}  ({entity})")
        return EXIT_OK
    client = Client(credentials, policy=options.retry)
    console.line(f"Undeploying from {credentials.apihost}, namespace {credentials.namespace} "
                 f"(credentials from {credentials.source})")
    done: list[Entity] = []
    absent = 0
    for index, entity in enumerate(entities):
        try:
            existed = client.delete(entity, credentials.namespace)
        except OpenWhiskError as exc:
            console.line(f"  FAILED  {exc}")
            _failure_report(console, "Undeploy", done, exc, entities[index + 1:])
            return EXIT_FAILED
        console.line(f"  deleted {entity}" if existed else f"  absent  {entity} (already gone)")
        done.append(entity)
        absent += not existed
    console.line(f"Undeployed: {len(done) - absent} deleted, {absent} already gone.")
    return EXIT_OK


def _credentials(env: Mapping[str, str], options: Options) -> Credentials | None:
    """The target; a dry run does without when none are configured."""
    try:
        return find_credentials(env, apihost=options.apihost, auth=options.auth,
                                namespace=options.namespace)
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


def _namespace(client: Client, manifest: Manifest, credentials: Credentials) -> str:
    """The real namespace, which web URLs need (``_`` is only an alias in REST paths).

    Asked before any PUT, so wrong credentials stop the deploy before it starts.
    """
    if credentials.namespace != OWN_NAMESPACE or not _web_actions(manifest):
        return credentials.namespace
    return client.namespace()


def _dry_run(manifest: Manifest, zips: Sequence[ActionZip], credentials: Credentials | None,
             console: Console) -> int:
    apihost, namespace = _shown_target(credentials, console)
    kinds = ", ".join(sorted({action.kind for action in manifest.actions()}))
    console.line(f"GET {apihost}/  (checks that the server runs {kinds})")
    if namespace == OWN_NAMESPACE and _web_actions(manifest):
        console.line(f"GET {apihost}/api/v1/namespaces  (the namespace for the web URLs)")
    for step in deploy_steps(manifest, zips, namespace):
        console.line(f"{step.call.method} {apihost}{step.call.target()}  ({step.entity})")
        console.line(json.dumps(step.shown, indent=2, ensure_ascii=False))
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


def _web_actions(manifest: Manifest) -> list[Action]:
    return [action for action in manifest.actions() if action.web != "no"]


def _web_urls(console: Console, manifest: Manifest, apihost: str, namespace: str) -> None:
    if _web_actions(manifest):
        console.line("Web actions:")
        for action in _web_actions(manifest):
            console.line(f"  {action.qualified_name}: {web_url(apihost, namespace, action)}")


def _failure_report(console: Console, operation: str, done: Sequence[Entity],
                    failure: OpenWhiskError | str, rest: Sequence[Entity]) -> None:
    console.line(f"{operation} failed.")
    console.line(f"  done:          {_names(done)}")
    console.line(f"  failed:        {failure}")
    console.line(f"  not attempted: {_names(rest)}")


def _names(entities: Sequence[Entity]) -> str:
    return ", ".join(str(entity) for entity in entities) or "nothing"


def _count(manifest: Manifest) -> str:
    packages, actions = len(manifest.packages), len(manifest.actions())
    return (f"{packages} package{'s' * (packages != 1)} and "
            f"{actions} action{'s' * (actions != 1)}")



def _secrets(manifest: Manifest, credentials: Credentials | None) -> KnownSecrets:
    """The values no printed line may show: the AUTH key, and every secret-named input or
    annotation (a string ``require-whisk-auth`` is a password)."""
    secrets = KnownSecrets()
    if credentials is not None:
        secrets.add(credentials.auth)
        secrets.add(credentials.basic_auth[1])
    for entity in (*manifest.packages, *manifest.actions()):
        for value in (*secret_values(entity.inputs), *secret_values(entity.annotations)):
            secrets.add(value)
    return secrets


