"""The deploy artefact: each action's zip as tools.deploy.build makes it, its size and time."""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass

from bench.harness import BenchError, Options
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread
from tools.deploy.build import ActionZip, build_zip
from tools.manifest import Manifest, ManifestError, load_manifest
from tools.sandbox import AdobeEmulator

MANIFEST = "manifest.yaml"
MAX_ZIP_BYTES = 100_000


@dataclass(frozen=True)
class ZipFigures:
    action: str
    zip_bytes: int
    files: int
    build_seconds: Spread


@dataclass(frozen=True)
class ArtefactFigures:
    repeat: int
    zips: tuple[ZipFigures, ...]


def manifest(root: pathlib.Path) -> Manifest:
    """The project's manifest, its $VARS filled with the sandbox credentials: no .env needed."""
    try:
        return load_manifest(root / MANIFEST, AdobeEmulator().params())
    except ManifestError as exc:
        raise BenchError(str(exc)) from None


def action_zips(root: pathlib.Path) -> list[ActionZip]:
    """Every action's zip, without vendored requirements (the runtime image has requests)."""
    project = manifest(root)
    return [build_zip(action, project.root) for action in project.actions()]


def run(options: Options) -> Section:
    project = manifest(options.root)
    figures = []
    for action in project.actions():
        seconds = []
        for _ in range(options.repeat):
            start = time.perf_counter()
            built = build_zip(action, project.root)
            seconds.append(time.perf_counter() - start)
        figures.append(ZipFigures(action.qualified_name, len(built.data), len(built.names()),
                                  Spread.of(seconds)))
    return section(ArtefactFigures(options.repeat, tuple(figures)))


def section(figures: ArtefactFigures) -> Section:
    table = Table(
        title="Built by tools.deploy.build, no vendored requirements",
        columns=("action", "zip bytes", "files", "build ms"),
        rows=tuple((z.action, f"{z.zip_bytes:,}", str(z.files), spread_text(z.build_seconds, 1000))
                   for z in figures.zips),
    )
    goals = tuple(Goal(f"{z.action} zip < {MAX_ZIP_BYTES // 1000} KB", f"{z.zip_bytes:,} bytes",
                       z.zip_bytes < MAX_ZIP_BYTES) for z in figures.zips)
    return Section("artefact", "The deploy artefact", (table,), goals, figures)
