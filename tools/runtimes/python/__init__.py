"""The Python runtime: a zip per action with ``lib/`` and bytecode, loaded as the runtime
loads it before it ships, and run locally by importing the action. A Python action given as a
``.zip`` of its own is shipped as it is."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tools.runtimes import as_is
from tools.runtimes.base import ActionCode, Artifact, CodeError, Runtime
from tools.runtimes.python import code
from tools.runtimes.python.build import build_zips
from tools.runtimes.python.sources import SHARED_PACKAGES

if TYPE_CHECKING:
    from tools.manifest.model import Action, Manifest


class PythonRuntime(Runtime):
    family = "python"
    label = "Python"
    described = f"Python actions, python:3.{code.MIN_PYTHON_MINOR} or newer"
    runs_locally = True

    def supports(self, kind: str) -> bool:
        return code.supports(kind)

    def read_code(self, value: str, base: pathlib.Path) -> ActionCode:
        if value.lower().endswith(as_is.BINARY_SUFFIXES):
            return as_is.read_code(value, base)
        return code.read_code(value, base)

    def check_main(self, main: str) -> None:
        if not main.isidentifier():
            raise CodeError(f"{main!r} is not a Python function name")

    def build(self, manifest: Manifest, actions: Sequence[Action], *, vendor: bool,
              pip_args: Sequence[str], say: Callable[[str], None] | None,
              load_check: bool) -> list[Artifact]:
        ours = [action for action in actions if isinstance(action.code, code.PythonCode)]
        built: dict[str, Artifact] = {
            zip_.action.qualified_name: zip_
            for zip_ in build_zips(manifest, actions=ours, vendor=vendor, pip_args=pip_args,
                                   say=say, load_check=load_check)}
        return [built.get(action.qualified_name) or as_is.artifact_of(action, manifest.root)
                for action in actions]

    def runs(self, action: Action) -> bool:
        return isinstance(action.code, code.PythonCode)

    def watched_files(self, action: Action, root: pathlib.Path) -> list[pathlib.Path]:
        return [*super().watched_files(action, root), *(root / name for name in SHARED_PACKAGES)]
