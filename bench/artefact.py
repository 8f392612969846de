"""The deploy artefact: each action's zip as tools.runtimes.python.build makes it, size, time.

The zip holds the sources and, when this Python is the kind's, their bytecode
(about two thirds of its bytes): the size goal counts both.
"""

from __future__ import annotations

import io
import pathlib
import time
import zipfile
from dataclasses import dataclass

from bench.harness import BenchError, Options
from bench.report import Goal, Section, Table, spread_text
from bench.stats import Spread
from tools.manifest import Manifest, ManifestError, load_manifest
from tools.runtimes.python.build import ActionZip, build_zip
from tools.sandbox import AdobeEmulator

MANIFEST = "manifest.yaml"
ACTION_MODULE = "actions.generic"
MAX_ZIP_BYTES = 200_000  # sources and bytecode; the sources alone were the 100 KB of old


@dataclass(frozen=True)
class ZipFigures:
    action: str
    zip_bytes: int
    files: int
    build_seconds: Spread
    bytecode_bytes: int = 0  # compressed size of the pycs inside
    note: str = ""  # why there is no bytecode, if there is none


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


def action_zip(root: pathlib.Path, module: str = ACTION_MODULE) -> ActionZip:
    """The zip of the manifest's action in ``module`` (the generic action by default)."""
    found = next((z for z in action_zips(root) if z.action.code.module == module), None)
    if found is None:
        raise BenchError(f"the manifest has no action in {module}")
    return found


def unzip(built: ActionZip, folder: pathlib.Path, *, bytecode: bool = True) -> pathlib.Path:
    """The zip unpacked into ``folder`` as the runtime unpacks it, with or without its pycs."""
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        for name in archive.namelist():
            if bytecode or "/__pycache__/" not in f"/{name}":
                archive.extract(name, folder)
    return folder


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
                                  Spread.of(seconds), _bytecode_bytes(built), built.note))
    return section(ArtefactFigures(options.repeat, tuple(figures)))


def _bytecode_bytes(built: ActionZip) -> int:
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        return sum(info.compress_size for info in archive.infolist()
                   if info.filename.endswith(".pyc"))


def section(figures: ArtefactFigures) -> Section:
    table = Table(
        title="Built by tools.runtimes.python.build, no vendored requirements",
        columns=("action", "zip bytes", "of which bytecode", "files", "build ms"),
        rows=tuple((z.action, f"{z.zip_bytes:,}", f"{z.bytecode_bytes:,}", str(z.files),
                    spread_text(z.build_seconds, 1000)) for z in figures.zips),
        notes=tuple(z.note for z in figures.zips if z.note) or (
            "The build ms are all of tools.runtimes.python.build's build_zip, the fresh "
            "interpreter that compiles the bytecode included.",),
    )
    goals = tuple(Goal(f"{z.action} zip < {MAX_ZIP_BYTES // 1000} KB (sources and bytecode)",
                       f"{z.zip_bytes:,} bytes", z.zip_bytes < MAX_ZIP_BYTES)
                  for z in figures.zips)
    return Section("artefact", "The deploy artefact", (table,), goals, figures)
