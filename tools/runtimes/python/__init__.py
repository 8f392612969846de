"""The Python runtime: a zip per action with ``lib/`` and bytecode, loaded as the runtime
loads it before it ships, and run locally by importing the action."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tools.runtimes.base import Runtime
from tools.runtimes.python import code
from tools.runtimes.python.build import ActionZip, build_zips, code_sha256
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

    def read_code(self, value: str, base: pathlib.Path) -> code.PythonCode:
        return code.read_code(value, base)

    def build(self, manifest: Manifest, actions: Sequence[Action], *, vendor: bool,
              pip_args: Sequence[str], say: Callable[[str], None] | None,
              load_check: bool) -> list[ActionZip]:
        return build_zips(manifest, actions=actions, vendor=vendor, pip_args=pip_args, say=say,
                          load_check=load_check)

    def exec_body(self, artifact: ActionZip) -> dict[str, Any]:
        action = artifact.action
        return {"kind": action.kind, "code": artifact.base64(), "main": action.main}

    def shown_exec(self, artifact: ActionZip) -> dict[str, Any]:
        body = self.exec_body(artifact)
        return {**body, "code": f"<zip of {len(artifact.data)} bytes, {len(body['code'])} in "
                                f"base64, sha256 {artifact.sha256}>"}

    def note(self, artifact: ActionZip) -> str:
        return f" ({artifact.action.kind}, {len(artifact.data)} byte zip)"

    def same_exec(self, artifact: ActionZip, held: Mapping[str, Any]) -> bool:
        action = artifact.action
        return (held.get("kind") == action.kind and held.get("main", "main") == action.main
                and code_sha256(held.get("code")) == artifact.sha256)

    def watched_files(self, action: Action, root: pathlib.Path) -> list[pathlib.Path]:
        return [*super().watched_files(action, root), *(root / name for name in SHARED_PACKAGES)]
