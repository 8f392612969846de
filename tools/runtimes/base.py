"""What every runtime answers, as template methods the deploy and local sides call."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.manifest.model import Action, Manifest


class CodeError(Exception):
    """Why an action's ``function`` cannot be used; the manifest reader adds where it is."""


class ActionCode(Protocol):
    """An action's code as the manifest declares it, in one of its runtime's forms."""

    @property
    def path(self) -> pathlib.Path: ...


class Artifact(Protocol):
    """What a build made of an action's code, ready to be sent."""

    @property
    def action(self) -> Action: ...

    @property
    def sha256(self) -> str: ...


def family(kind: str) -> str:
    """``python`` for ``python:3.11``: the part of a kind that picks its runtime."""
    return kind.partition(":")[0]


class Runtime:
    """One kind family. Subclasses fill in the hooks; the defaults suit a kind that cannot be
    run locally and whose code is watched as the folder or file the manifest names."""

    family: str = ""
    label: str = ""  # what the user calls the family: "Python"
    described: str = ""  # what kinds it deploys, for a message: "Python actions, python:3.10 …"
    runs_locally: bool = False

    def supports(self, kind: str) -> bool:
        """Whether this tool can deploy ``kind`` of this family."""
        raise NotImplementedError

    def read_code(self, value: str, base: pathlib.Path) -> ActionCode:
        """The code ``function: value`` names, relative to ``base``; CodeError if unusable."""
        raise NotImplementedError

    def build(self, manifest: Manifest, actions: Sequence[Action], *, vendor: bool,
              pip_args: Sequence[str], say: Callable[[str], None] | None,
              load_check: bool) -> list[Artifact]:
        """One artifact per action, in the order given; ``load_check`` runs its code to see
        that it loads (never for a dry run)."""
        raise NotImplementedError

    def exec_body(self, artifact: Artifact) -> dict[str, Any]:
        """The ``exec`` of the action's PUT."""
        raise NotImplementedError

    def shown_exec(self, artifact: Artifact) -> dict[str, Any]:
        """``exec`` as a dry run shows it: the code summarised."""
        raise NotImplementedError

    def note(self, artifact: Artifact) -> str:
        """A few words after the action's name in the deploy's progress line."""
        return f" ({artifact.action.kind})"

    def same_exec(self, artifact: Artifact, held: Mapping[str, Any]) -> bool:
        """Whether the server's ``exec`` already is what ``artifact`` would send."""
        raise NotImplementedError

    def watched_files(self, action: Action, root: pathlib.Path) -> list[pathlib.Path]:
        """The files and folders of project ``root`` whose change means the action must be
        built again."""
        return [action.code.path, *(path for path, _ in action.includes)]
