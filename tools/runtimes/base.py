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
    """An action's code as the manifest declares it, in one of its runtime's forms; ``path``
    is None for code written in the manifest itself."""

    @property
    def path(self) -> pathlib.Path | None: ...


class Artifact(Protocol):
    """What a build made of an action's code: how it is sent (``exec``), shown and compared
    with what the server holds."""

    @property
    def action(self) -> Action: ...

    @property
    def sha256(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def suffix(self) -> str:
        """What ``deploy.py build`` names its file: ``.zip``, ``.js`` …"""

    def exec_body(self) -> dict[str, Any]:
        """The ``exec`` of the action's PUT."""

    def shown_exec(self) -> dict[str, Any]:
        """``exec`` as a dry run shows it: the code summarised."""

    def progress_note(self) -> str:
        """A few words after the action's name in the deploy's progress line."""

    def same_exec(self, held: Mapping[str, Any]) -> bool:
        """Whether the server's ``exec`` already is what this would send."""


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

    def check_main(self, main: str) -> None:
        """CodeError when ``main`` cannot name the entry point in this family's code."""

    def runs(self, action: Action) -> bool:
        """Whether the local runner can run this action here."""
        return self.runs_locally

    def build(self, manifest: Manifest, actions: Sequence[Action], *, vendor: bool,
              pip_args: Sequence[str], say: Callable[[str], None] | None,
              load_check: bool) -> list[Artifact]:
        """One artifact per action, in the order given; ``load_check`` runs its code to see
        that it loads (never for a dry run)."""
        raise NotImplementedError

    def watched_files(self, action: Action, root: pathlib.Path) -> list[pathlib.Path]:
        """The files and folders of project ``root`` whose change means the action must be
        built again."""
        code = [action.code.path] if action.code.path is not None else []
        return [*code, *(path for path, _ in action.includes)]
