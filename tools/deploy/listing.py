"""``deploy.py list``: what the project has deployed, entity by entity, against the manifest.

Each of the manifest's entities is read afresh and compared as the incremental
deploy compares it (each entity type's ``same``): it ``matches``,
``differs`` (the next deploy would send it) or is ``missing``. What the project
owns on the server (its ``whisk-managed`` annotation) and the manifest no longer
has is ``not in the manifest`` (the next deploy prunes it). Web actions and web
sequences get their URL. Nothing is written; secrets are masked in every line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from tools.deploy.client import Entity
from tools.deploy.entity_types import Desired
from tools.deploy.operations import Options, project_name, web_entity_urls
from tools.deploy.plan import build_project, plan
from tools.deploy.sync import Syncer
from tools.deploy.target import Target
from tools.errors import EXIT_OK
from tools.manifest import Manifest
from tools.project import ProjectSource

MATCHES, DIFFERS, MISSING, UNLISTED = "matches", "differs", "missing", "not in the manifest"
STATES = (MATCHES, DIFFERS, MISSING, UNLISTED)


@dataclass(frozen=True)
class Row:
    entity: Entity
    state: str
    url: str = ""  # a web action's or web sequence's


def main(args: argparse.Namespace) -> int:
    """The ``list`` subcommand, from the parsed command line."""
    source = ProjectSource.from_flags(args.manifest, args.env_file, args.deployment)
    env = source.env()
    options = Options(apihost=args.apihost, auth=args.auth, namespace=args.namespace,
                      vendor=args.vendor, pip_args=tuple(args.pip_arg), project=args.project,
                      allow_http=args.allow_http)
    return list_project(source.load(env), env, options)


def list_project(manifest: Manifest, env: dict[str, str], options: Options | None = None,
                 out: TextIO | None = None) -> int:
    """Prints each entity of the project, its state and its web URL; the exit status."""
    options = options or Options()
    target = Target.find(env, manifest, options, out)
    namespace = target.connect()
    manifest = target.manifest  # with the server's default kinds
    # Comparing needs the code's digest, not its import: list runs no project code.
    built = build_project(manifest, project_name(manifest, options),
                          replace(options.build, load_check=False))
    desired = plan(manifest, built.artifacts, namespace, built.managed)
    urls = web_entity_urls(manifest, target.credentials.apihost, namespace)
    rows = rows_of(Syncer(target.client, namespace), desired, built.project, urls)
    target.console.line(f"Project {built.project} on {target.described()}:")
    width = max((len(str(row.entity)) for row in rows), default=0)
    for row in rows:
        url = f"  {row.url}" if row.url else ""
        target.console.line(f"  {row.entity!s:<{width}}  {row.state:<19}{url}".rstrip())
    counts = {state: sum(row.state == state for row in rows) for state in STATES}
    target.console.line(", ".join(f"{count} {state}" for state, count in counts.items()) + ".")
    return EXIT_OK


def rows_of(syncer: Syncer, desired: Sequence[Desired], project: str,
            urls: dict[str, str]) -> list[Row]:
    """The manifest's entities in deploy order, then what only the server has."""
    rows = []
    for item in desired:
        held = syncer.held(item)
        state = MISSING if held is None else MATCHES if item.type.same(item, held) else DIFFERS
        url = urls.get(item.entity.name, "") if item.entity.collection == "actions" else ""
        rows.append(Row(item.entity, state, url or (item.type.url(held) if held else "")))
    wanted = {(item.entity.collection, item.entity.name) for item in desired}
    rows += [Row(owned.entity, UNLISTED) for owned in syncer.owned(project)
             if (owned.entity.collection, owned.entity.name) not in wanted]
    return rows
