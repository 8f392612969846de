"""Action zips the OpenWhisk Python runtime loads, byte-identical for identical input.

The runtime unzips the code, renames the root ``__main__.py`` to ``main__.py``
and imports it with the zip root as the working directory and ``sys.path[0]``.
So the zip holds a generated root ``__main__.py`` that imports the action's
``main``, the action's package with the ``__init__.py`` files above it, the
shared ``lib/``, and optionally vendored requirements, and nothing else: a
``requirements.txt`` at the root would make the runtime run pip during init.
Fixed timestamps, permissions and order make a rebuild of the same sources
produce the same bytes, so a deploy can be compared with what was built.

When the Python that builds is the one the action's kind runs (3.11 for
``python:3.11``), each module's bytecode goes beside it as
``__pycache__/NAME.cpython-311.pyc``, so a new container imports the action
without compiling it first. They are unchecked-hash pycs (PEP 552): the
runtime neither compares them with the sources' mtimes nor rewrites them, and
their bytes depend on the sources alone. They are compiled in a fresh
interpreter with a fixed environment (hash seed 0, no site, no user
variables), so a rebuild anywhere gives the same bytes. Another Python builds
the zip without them and says so on stderr: its bytecode would be ignored.
"""

from __future__ import annotations

import base64
import hashlib
import io
import marshal
import pathlib
import platform
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.runtimes.python.code import python_version
from tools.runtimes.python.load_check import check_loads
from tools.runtimes.python.sources import ENTRY_POINT, BuildError, action_files, add
from tools.runtimes.python.store_bundle import store_files

if TYPE_CHECKING:
    from tools.manifest.model import Action, Manifest
    from tools.runtimes.base import Artifact

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
FILE_MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3  # zip "made by" system
VENDOR_PLATFORM = "manylinux2014_x86_64"  # what OpenWhisk's Python images run on
BUILDER_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
COMPILE_TIMEOUT = 300  # seconds, for the bytecode of every module of one zip

# Run by a fresh interpreter: sources in (marshal of {zip name: bytes}) on stdin,
# unchecked-hash pycs out (marshal of {zip name: bytes}) on stdout. What does
# not compile gets no pyc, and fails at import just as it would without one.
_COMPILER = """
import importlib.util, marshal, sys
sources = marshal.loads(sys.stdin.buffer.read())
pycs = {}
for name in sorted(sources):
    source = sources[name]
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError):
        continue
    pycs[name] = (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
                  + importlib.util.source_hash(source) + marshal.dumps(code))
    del code
sys.stdout.buffer.write(marshal.dumps(pycs))
"""


@dataclass(frozen=True)
class ActionZip:
    action: Action
    data: bytes
    bytecode: bool = False  # the modules' pycs for the kind's Python are inside
    note: str = ""  # what the user should know about this zip (why no bytecode)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def base64(self) -> str:
        """The code as OpenWhisk's REST API takes it."""
        return base64.b64encode(self.data).decode("ascii")

    def names(self) -> list[str]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return archive.namelist()

    suffix = ".zip"  # what ``deploy.py build`` names its file

    def exec_body(self) -> dict[str, Any]:
        return {"kind": self.action.kind, "code": self.base64(), "main": self.action.main}

    def shown_exec(self) -> dict[str, Any]:
        body = self.exec_body()
        return {**body, "code": f"<zip of {len(self.data)} bytes, {len(body['code'])} in "
                                f"base64, sha256 {self.sha256}>"}

    def progress_note(self) -> str:
        return f" ({self.action.kind}, {len(self.data)} byte zip)"

    def same_exec(self, held: Mapping[str, Any]) -> bool:
        return (held.get("kind") == self.action.kind
                and held.get("main", "main") == self.action.main
                and code_sha256(held.get("code")) == self.sha256)


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A deflated zip of ``files`` whose bytes depend on nothing but their names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = UNIX
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def build_zip(action: Action, project_root: pathlib.Path,
              vendored: Mapping[str, bytes] | None = None, *, load_check: bool = True
              ) -> ActionZip:
    """The action's zip; with ``load_check``, imported as the runtime imports it (the
    action's import-time code runs), which a dry run and ``list`` must not do."""
    files = action_files(action, project_root)
    for name, data in sorted((vendored or {}).items()):
        add(files, name, data, action, origin="a vendored requirement")
    note = bytecode_note(action)
    if not note:
        files.update(bytecode({name: data for name, data in files.items()
                               if name.endswith(".py") and name != ENTRY_POINT}))
    data = zip_bytes(files)
    loadable = not vendored or (not note and sys.platform == "linux"
                                and platform.machine() == "x86_64")
    if load_check and loadable:
        check_loads(action, data)  # vendored wheels load only where they were built for
    return ActionZip(action, data, bytecode=not note, note=note)


def bytecode_note(action: Action) -> str:
    """Why the zip gets no bytecode, or "" when it does (this Python is the kind's)."""
    version = python_version(action.kind)
    if sys.implementation.name == "cpython" and version == BUILDER_PYTHON:
        return ""
    return (f"{action.qualified_name}: no bytecode in the zip: it runs {action.kind}, this "
            f"build runs {sys.implementation.name} {BUILDER_PYTHON}; build with Python "
            f"{version} so that a new container need not compile it")


def bytecode(sources: Mapping[str, bytes]) -> dict[str, bytes]:
    """``dir/__pycache__/NAME.<tag>.pyc`` -> unchecked-hash pyc, for each source that compiles.

    Compiled by a fresh interpreter in an empty folder, its environment only
    ``PYTHONHASHSEED=0``: the bytes depend on nothing but the sources and the
    Python that builds (checked by the tests across processes).
    """
    if not sources:
        return {}
    with tempfile.TemporaryDirectory(prefix="bytecode-") as empty:
        done = subprocess.run(  # noqa: S603 - our own interpreter, our own script
            [sys.executable, "-S", "-s", "-B", "-c", _COMPILER],
            input=marshal.dumps(dict(sources)), capture_output=True, cwd=empty,
            env={"PYTHONHASHSEED": "0"}, timeout=COMPILE_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").strip().splitlines()[-15:])
        raise BuildError(f"could not compile the zip's modules:\n{tail}")
    compiled = marshal.loads(done.stdout)  # noqa: S302 - what our own compiler wrote
    return {cached_name(name): pyc for name, pyc in compiled.items()}


def cached_name(name: str) -> str:
    """Where the import system looks for the bytecode of zip path ``name``."""
    folder, _, file = name.rpartition("/")
    pyc = f"__pycache__/{file.removesuffix('.py')}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{pyc}" if folder else pyc


def build_zips(manifest: Manifest, *, actions: Sequence[Action] | None = None,
               vendor: bool = False, pip_args: Sequence[str] = (),
               say: Callable[[str], None] | None = None,
               load_check: bool = True) -> list[ActionZip]:
    """One zip per action (the manifest's, unless ``actions`` are given); requirements are
    installed once per Python version.

    ``say`` gets each zip's note (why it holds no bytecode); stderr by default,
    so that both ``deploy.py build`` and ``deploy.py deploy`` show it.
    """
    vendored: dict[str, dict[str, bytes]] = {}
    zips = []
    for action in manifest.actions() if actions is None else actions:
        extra: dict[str, bytes] = {}
        if vendor:
            version = python_version(action.kind)
            if version not in vendored:
                vendored[version] = vendor_files(manifest.root / "requirements.txt", version,
                                                 pip_args)
            extra = vendored[version]
        # redis-py, for an action the manifest gives IMS_TOKEN_STORE_URL (vendored copy first)
        extra = {**store_files(manifest, action, python_version(action.kind)), **extra}
        built = build_zip(action, manifest.root, extra, load_check=load_check)
        if built.note:
            (say or _to_stderr)(built.note)
        zips.append(built)
    return zips


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def vendor_files(requirements: pathlib.Path, python_version: str,
                 pip_args: Sequence[str] = ()) -> dict[str, bytes]:
    """The requirements installed by pip as Linux x86_64 wheels for ``python_version``.

    Binary wheels only, so nothing is compiled for the wrong machine.
    ``pip_args`` go to pip as they are (``--no-index --find-links DIR`` for
    offline builds, an index URL, ...).
    """
    if not requirements.is_file():
        raise BuildError(f"--vendor: {requirements} does not exist")
    with tempfile.TemporaryDirectory(prefix="vendor-") as target:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", "--no-compile", "--target", target,
            "--platform", VENDOR_PLATFORM, "--only-binary=:all:",
            "--python-version", python_version, "--implementation", "cp",
            "--requirement", str(requirements), *pip_args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise BuildError(f"--vendor: pip could not install {requirements} for "
                             f"Python {python_version} ({VENDOR_PLATFORM}):\n{tail}")
        folder = pathlib.Path(target)
        return {path.relative_to(folder).as_posix(): path.read_bytes()
                for path in _vendored_files(folder)}


def code_sha256(code: object) -> str | None:
    """The sha256 of the zip in an action's base64 ``exec.code``, as the server holds it."""
    if not isinstance(code, str):
        return None
    try:
        return hashlib.sha256(base64.b64decode(code, validate=True)).hexdigest()
    except ValueError:
        return None


def write_zips(zips: Iterable[ActionZip | Artifact], out_dir: pathlib.Path
               ) -> list[pathlib.Path]:
    """``out_dir/<package>/<action><suffix>`` for each built artifact (``.zip`` for a zip)."""
    written = []
    for built in zips:
        path = out_dir / built.action.package / f"{built.action.name}{built.suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(built.data)
        written.append(path)
    return written


def _vendored_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """What pip installed, less console scripts and bytecode."""
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file()
        and path.suffix != ".pyc"
        and "__pycache__" not in path.relative_to(folder).parts
        and path.relative_to(folder).parts[0] != "bin"
    )
