"""``deploy.py watch``: deploy on every save.

It deploys once, then polls the project's files every 0.3 s (the manifest and
the files it ``$include``s, ``.env``, each action's code, ``lib/`` and the data
files actions include; no watcher library, no thread). When one changes it
reads the manifest again, rebuilds, and runs the incremental deploy, which
reads each entity and sends only what differs, pruning what the project owns
and the manifest dropped (unless ``--no-prune``). Each round prints one line:
what was sent and how long it took, or that nothing changed on the server. A
manifest, build or server error is printed and the watch goes on; Ctrl-C ends
it. Secrets are masked as in every line deploy prints.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import stat
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from lib.redact import KnownSecrets
from tools.deploy.operations import Options, check_identity, project_name, prunes
from tools.deploy.plan import build_project, plan
from tools.deploy.sync import Progress, Syncer, sync
from tools.deploy.target import Console, Target, credentials_for, project_secrets
from tools.errors import EXIT_OK, ToolError
from tools.manifest import Manifest
from tools.project import ProjectSource

INTERVAL = 0.3  # seconds between two looks at the files
MAX_DIGESTED_BYTES = 64 * 1024 * 1024  # past OpenWhisk's 48 MB code limit: size and time do

Snapshot = dict[str, str | None]  # path -> sha256 of its bytes (None: unreadable)


def main(args: argparse.Namespace) -> int:
    """The ``watch`` subcommand, from the parsed command line."""
    options = Options(apihost=args.apihost, auth=args.auth, namespace=args.namespace,
                      vendor=args.vendor, pip_args=tuple(args.pip_arg), project=args.project,
                      prune=args.prune, allow_http=args.allow_http)
    return watch(args.manifest, args.env_file, options, interval=args.interval,
                 max_cycles=args.max_cycles, deployment=args.deployment)


def watch(manifest_path: pathlib.Path, env_file: pathlib.Path | None,
          options: Options | None = None, *, out: TextIO | None = None,
          interval: float = INTERVAL, max_cycles: int | None = None,
          sleep: Callable[[float], None] = time.sleep,
          deployment: pathlib.Path | None = None) -> int:
    """Deploys, then again after each change, until Ctrl-C or ``max_cycles`` looks at the
    files (for tests; ``sleep`` runs before each look). ``deployment``: as --deployment."""
    options = options or Options()
    out = out or sys.stdout
    source = ProjectSource.from_flags(manifest_path, env_file, deployment)
    files = ProjectFiles(source)
    print(f"Watching the project of {manifest_path} (Ctrl-C to stop)", file=out, flush=True)
    try:
        before = files.snapshot()
        files.learn(deploy_once(source, options, out))
        before = files.snapshot() if files.changed_roots() else before
        cycles = 0
        while max_cycles is None or cycles < max_cycles:
            sleep(interval)
            cycles += 1
            now = files.snapshot()
            if now == before:
                continue
            before = now
            files.learn(deploy_once(source, options, out))
            if files.changed_roots():  # a new action, a new include: watch its files too
                before = files.snapshot()
    except KeyboardInterrupt:
        print("Stopped watching.", file=out, flush=True)
    return EXIT_OK


def deploy_once(source: ProjectSource, options: Options, out: TextIO) -> Manifest | None:
    """One incremental deploy, reported on one line; the manifest, if it could be read."""
    started = time.monotonic()
    stamp = datetime.now().strftime("%H:%M:%S")
    console = Console(out, KnownSecrets())
    manifest: Manifest | None = None
    progress = Progress()
    try:
        env = source.env()
        credentials = None
        try:
            credentials = credentials_for(env, options)
        finally:  # mask the AUTH key in whatever comes next, a manifest error included
            console.secrets = project_secrets(None, credentials)
        manifest = source.load(env)
        console.secrets = project_secrets(manifest, credentials)
        assert credentials is not None  # not optional: none found is an error
        check_identity(manifest)
        target = Target(credentials, manifest, options, console=console)
        namespace = target.connect()
        built = build_project(target.manifest, project_name(manifest, options), options.build)
        desired = plan(target.manifest, built.artifacts, namespace, built.managed)
        sync(Syncer(target.client, namespace, force=options.force, adopt=options.adopt),
             desired, built.project,
             prune=prunes(manifest, options), progress=progress,
             show=lambda outcome, entity, note: None)
    except (ToolError, OSError) as exc:
        done = sent_text(progress)
        after = f" (after: {done})" if progress.tally.sent else ""
        first, *rest = str(exc).splitlines() or [""]
        console.line(f"{stamp} error: {first}{after}")
        for line in rest:  # a YAML error's context: indented under its line
            console.line(f"    {line}")
        return manifest
    console.line(f"{stamp} {sent_text(progress) or 'nothing changed on the server'} "
                 f"in {time.monotonic() - started:.1f} s")
    return manifest


def sent_text(progress: Progress) -> str:
    """``sent action demo/hello; pruned action demo/old``, or empty when nothing was sent."""
    outcomes = progress.tally.outcomes
    sent = [*outcomes["created"], *outcomes["updated"]]
    parts = []
    if sent:
        parts.append("sent " + ", ".join(str(entity) for entity in sent))
    if outcomes["pruned"]:
        parts.append("pruned " + ", ".join(str(entity) for entity in outcomes["pruned"]))
    return "; ".join(parts)


class ProjectFiles:
    """The files a deploy reads, and their contents' digests."""

    def __init__(self, source: ProjectSource) -> None:
        self.source = source
        self.manifest: Manifest | None = None  # the last one that could be read
        self._roots: tuple[pathlib.Path, ...] = ()

    def learn(self, manifest: Manifest | None) -> None:
        """Takes the files of a freshly read manifest; keeps the last good one's otherwise."""
        if manifest is not None:
            self.manifest = manifest

    def roots(self) -> tuple[pathlib.Path, ...]:
        return tuple(self.source.roots(self.manifest))

    def changed_roots(self) -> bool:
        """Whether the files to watch changed since the last call (and remember them)."""
        roots = self.roots()
        changed, self._roots = roots != self._roots, roots
        return changed

    def snapshot(self) -> Snapshot:
        self._roots = self.roots()
        return {str(path): _digest(path) for path in self.source.watched_files(self.manifest)}


def _digest(path: pathlib.Path) -> str | None:
    """The sha256 of a regular file's bytes; a FIFO, a device or a folder is never read (it
    could block or never end), and a file over MAX_DIGESTED_BYTES is known by size and time."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return f"not a regular file: {stat.S_IFMT(status.st_mode)}"
        if status.st_size > MAX_DIGESTED_BYTES:
            return f"large: {status.st_size} bytes, modified {status.st_mtime_ns}"
        digest = hashlib.sha256()
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                if handle.tell() > MAX_DIGESTED_BYTES:  # it grew while read
                    break
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(descriptor)
