"""``deploy.py list``: what the project has deployed, entity by entity, against the manifest.

Each of the manifest's entities is read afresh and compared as the incremental
deploy compares it (:func:`tools.deploy.compare.unchanged`): it ``matches``,
``differs`` (the next deploy would send it) or is ``missing``. What the project
owns on the server (its ``whisk-managed`` annotation) and the manifest no longer
has is ``not in the manifest`` (the next deploy prunes it). Web actions and web
sequences get their URL. Nothing is written; secrets are masked in every line.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TextIO

from tools.deploy import operations
from tools.deploy.client import Client, Entity
from tools.deploy.compare import unchanged
from tools.deploy.operations import Console, Options
from tools.deploy.plan import Desired, plan, web_url
from tools.deploy.sync import Syncer
from tools.errors import EXIT_OK, ManifestError
from tools.manifest import Manifest, load_env, load_manifest

MATCHES, DIFFERS, MISSING, UNLISTED = "matches", "differs", "missing", "not in the manifest"
STATES = (MATCHES, DIFFERS, MISSING, UNLISTED)


@dataclass(frozen=True)
class Row:
    entity: Entity
    state: str
    url: str = ""  # a web action's or web sequence's


def main(args: argparse.Namespace) -> int:
    """The ``list`` subcommand, from the parsed command line."""
    env = cli_env(args.env_file)
    manifest = load_manifest(args.manifest, env)
    options = Options(apihost=args.apihost, auth=args.auth, namespace=args.namespace,
                      vendor=args.vendor, pip_args=tuple(args.pip_arg), project=args.project,
                      allow_http=args.allow_http)
    return list_project(manifest, env, options)


def cli_env(env_file: pathlib.Path | None) -> dict[str, str]:
    """The variables for the manifest, as the other subcommands read them."""
    if env_file is not None and not env_file.is_file():
        raise ManifestError(f"--env-file {env_file}: no such file")
    return load_env(env_file or pathlib.Path(".env"))


def list_project(manifest: Manifest, env: Mapping[str, str], options: Options | None = None,
                 out: TextIO | None = None) -> int:
    """Prints each entity of the project, its state and its web URL; the exit status."""
    options = options or Options()
    credentials = operations._credentials(env, replace(options, dry_run=False))
    assert credentials is not None  # without dry_run, none found is an error
    console = Console(out, operations._secrets(manifest, credentials))
    built = operations.build_project(manifest, options)
    client = Client(credentials, policy=options.retry)
    namespace = operations.connect(client, manifest, credentials)
    desired = plan(manifest, built.zips, namespace, built.managed)
    rows = rows_of(Syncer(client, namespace), manifest, desired, built.project,
                   credentials.apihost, namespace)
    console.line(f"Project {built.project} on {credentials.apihost}, namespace {namespace} "
                 f"(credentials from {credentials.source}):")
    width = max((len(str(row.entity)) for row in rows), default=0)
    for row in rows:
        url = f"  {row.url}" if row.url else ""
        console.line(f"  {row.entity!s:<{width}}  {row.state:<19}{url}".rstrip())
    counts = {state: sum(row.state == state for row in rows) for state in STATES}
    console.line(", ".join(f"{count} {state}" for state, count in counts.items()) + ".")
    return EXIT_OK


def rows_of(syncer: Syncer, manifest: Manifest, desired: list[Desired], project: str,
            apihost: str, namespace: str) -> list[Row]:
    """The manifest's entities in deploy order, then what only the server has."""
    urls = {entity.qualified_name: web_url(apihost, namespace, entity)
            for entity in operations._web_entities(manifest)}
    rows = []
    for item in desired:
        read = {"code": "true"} if item.kind == "action" else {}
        held = syncer.client.get(item.entity, namespace, **read)
        state = MISSING if held is None else MATCHES if unchanged(item, held) else DIFFERS
        url = urls.get(item.entity.name, "") if item.entity.collection == "actions" else ""
        rows.append(Row(item.entity, state, url))
    wanted = {(item.entity.collection, item.entity.name) for item in desired}
    rows += [Row(owned.entity, UNLISTED) for owned in syncer.owned(project)
             if (owned.entity.collection, owned.entity.name) not in wanted]
    return rows
