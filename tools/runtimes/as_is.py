"""Code shipped as it is, for every kind this tool does not build itself (Node.js, Java,
Swift, PHP, docker …): no ``npm install``, no bundling.

A single source file is sent as text; a folder is zipped and a ``.zip`` or ``.jar`` sent as
it is, both binary (base64), as wskdeploy sends them. ``docker: IMAGE`` runs that image
(kind ``blackbox``), with the code when a ``function`` is given too; inline ``code:`` is
sent as written.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.runtimes.base import ActionCode, CodeError, Runtime
from tools.runtimes.python.build import zip_bytes
from tools.runtimes.python.sources import BuildError

if TYPE_CHECKING:
    from tools.manifest.model import Action, Manifest

BINARY_SUFFIXES = (".zip", ".jar")
MAX_CODE_FILE_BYTES = 48 * 1024 * 1024  # OpenWhisk's code limit: a larger file never deploys
_SKIPPED = frozenset({"__pycache__"})


@dataclass(frozen=True)
class SourceFile:
    """One source file, sent as text (``hello.js``)."""

    path: pathlib.Path


@dataclass(frozen=True)
class CodeFolder:
    """A folder, zipped (``actions/hello/`` with its ``package.json``)."""

    path: pathlib.Path


@dataclass(frozen=True)
class Archive:
    """A ``.zip`` or ``.jar``, sent as it is."""

    path: pathlib.Path


@dataclass(frozen=True)
class InlineCode:
    """``code:`` written in the manifest itself."""

    text: str
    path: None = None


@dataclass(frozen=True)
class DockerImage:
    """``docker: IMAGE`` (or ``native: true``), with the code a ``function`` gives, if any."""

    image: str
    code: ActionCode | None = None

    @property
    def path(self) -> pathlib.Path | None:
        return None if self.code is None else self.code.path


def read_code(value: str, base: pathlib.Path) -> SourceFile | CodeFolder | Archive:
    """``function:`` relative to the file that declares it."""
    try:
        path = (base / value).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a loop of links, a NUL
        raise CodeError(f"{value!r} is not a usable path: {exc}") from None
    if path.is_dir():
        return CodeFolder(path)
    if not path.is_file():
        raise CodeError(f"{value} does not exist")
    return Archive(path) if path.suffix.lower() in BINARY_SUFFIXES else SourceFile(path)


@dataclass(frozen=True)
class CodeArtifact:
    """The bytes an action's code becomes, and whether they travel as base64."""

    action: Action
    data: bytes
    binary: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def suffix(self) -> str:
        path = self.action.code.path
        if self.binary:
            return path.suffix if path is not None and path.is_file() else ".zip"
        return path.suffix if path is not None else ".txt"

    def code_text(self) -> str:
        if self.binary:
            return base64.b64encode(self.data).decode("ascii")
        return self.data.decode("utf-8")

    def exec_body(self) -> dict[str, Any]:
        code = self.action.code
        body: dict[str, Any] = {"kind": self.action.kind}
        if isinstance(code, DockerImage):
            body["image"] = code.image
        if self.data or not isinstance(code, DockerImage):
            body["code"] = self.code_text()
        if self.binary:
            body["binary"] = True
        if self.action.main:
            body["main"] = self.action.main
        return body

    def shown_exec(self) -> dict[str, Any]:
        body = self.exec_body()
        if "code" in body:
            what = "zip" if self.binary else "source"
            body["code"] = f"<{what} of {len(self.data)} bytes, sha256 {self.sha256}>"
        return body

    def progress_note(self) -> str:
        code = self.action.code
        if isinstance(code, DockerImage):
            return f" (docker {code.image})"
        return f" ({self.action.kind}, {len(self.data)} byte {'zip' if self.binary else 'file'})"

    def same_exec(self, held: Mapping[str, Any]) -> bool:
        wanted = self.exec_body()
        if any(held.get(key) != wanted.get(key) for key in ("kind", "image")):
            return False
        if (held.get("main") or "") != (self.action.main or ""):
            return False
        return _held_sha256(held.get("code"), self.binary) == (self.sha256 if self.data
                                                               else None)


def _held_sha256(code: object, binary: bool) -> str | None:
    if not isinstance(code, str) or not code:
        return None
    if not binary:
        return hashlib.sha256(code.encode("utf-8")).hexdigest()
    try:
        return hashlib.sha256(base64.b64decode(code, validate=True)).hexdigest()
    except ValueError:
        return None


def artifact_of(action: Action, root: pathlib.Path) -> CodeArtifact:
    """The action's code as the server takes it; BuildError naming what cannot be read, or
    code from outside the project folder ``root``."""
    code = action.code.code if isinstance(action.code, DockerImage) else action.code
    if code is None:
        return CodeArtifact(action, b"", binary=False)
    if isinstance(code, InlineCode):
        return CodeArtifact(action, code.text.encode("utf-8"), binary=False)
    if not code.path.resolve().is_relative_to(root.resolve()):
        raise BuildError(f"{action.qualified_name}: its function {code.path} is outside the "
                         f"project folder {root}")
    try:
        if isinstance(code, CodeFolder) or action.includes:
            return CodeArtifact(action, zip_bytes(_zipped_files(action, code)), binary=True)
        data = _read_capped(code.path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"{action.qualified_name}: cannot read {code.path}: {exc}") from None
    if isinstance(code, Archive):
        return CodeArtifact(action, data, binary=True)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{action.qualified_name}: {code.path} is not UTF-8 text; zip it, "
                         "or give a folder") from None
    return CodeArtifact(action, data, binary=False)


def _read_capped(path: pathlib.Path) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(MAX_CODE_FILE_BYTES + 1)
    if len(data) > MAX_CODE_FILE_BYTES:
        raise OSError(f"over OpenWhisk's {MAX_CODE_FILE_BYTES} byte code limit")
    return data


def _zipped_files(action: Action, code: ActionCode) -> dict[str, bytes]:
    """A folder's files, or one source file, with the files the action includes (App
    Builder's ``include``), as aio zips them."""
    if isinstance(code, Archive):
        raise BuildError(f"{action.qualified_name}: include adds files to a zip this tool "
                         f"builds; {code.path.name} is built already: put them in it")
    assert code.path is not None
    files = (_folder_files(code.path) if isinstance(code, CodeFolder)
             else {code.path.name: _read_capped(code.path)})
    for source, inside in action.includes:
        if inside in files:
            raise BuildError(f"{action.qualified_name}: its include brings {inside}, which the "
                             "zip already holds")
        files[inside] = _read_capped(source)
    return files


def _folder_files(folder: pathlib.Path) -> dict[str, bytes]:
    """Every regular file below ``folder`` but hidden ones (a ``.env`` must not ship), links
    and caches."""
    found = {}
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if (path.is_file() and not path.is_symlink() and not _SKIPPED.intersection(parts)
                and not any(part.startswith(".") for part in parts)):
            found[path.relative_to(folder).as_posix()] = _read_capped(path)
    return found


class AsIsRuntime(Runtime):
    """Any kind family without a runtime of its own: its code shipped as written."""

    family = ""
    label = "other"
    described = "any other kind the server runs, its code shipped as it is"

    def supports(self, kind: str) -> bool:
        return True

    def read_code(self, value: str, base: pathlib.Path) -> ActionCode:
        return read_code(value, base)

    def build(self, manifest: Manifest, actions: Sequence[Action], *, vendor: bool,
              pip_args: Sequence[str], say: Callable[[str], None] | None,
              load_check: bool) -> list[CodeArtifact]:
        return [artifact_of(action, manifest.root) for action in actions]
