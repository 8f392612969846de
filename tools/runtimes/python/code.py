"""A Python action's code: one ``.py`` file or a package folder, importable by its module path.

The module path comes from the chain of ``__init__.py`` above the code; the folder
that chain starts in goes on ``sys.path`` (the zip's root, or the local runner's).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

from tools.runtimes.base import CodeError

# lib/ needs Python 3.10 or newer; OpenWhisk names its Python kinds python:3.N.
KIND = re.compile(r"python:3\.(\d+)")
MIN_PYTHON_MINOR = 10


@dataclass(frozen=True)
class PythonCode:
    """Code the runtime imports by its module path."""

    path: pathlib.Path  # absolute

    @property
    def module(self) -> str:
        """The import path of the code, from the chain of ``__init__.py`` above it."""
        return ".".join(module_parts(self.path))

    @property
    def source_root(self) -> pathlib.Path:
        """The folder the module path is relative to (what goes on sys.path)."""
        return self.path.parents[len(module_parts(self.path)) - 1]


class PythonFile(PythonCode):
    """A single module, ``actions/hello.py``."""


class PythonPackage(PythonCode):
    """A package folder with its ``__init__.py``, ``actions/generic``."""


def supports(kind: str) -> bool:
    match = KIND.fullmatch(kind)
    return bool(match) and int(match[1]) >= MIN_PYTHON_MINOR


def python_version(kind: str) -> str:
    """``3.11`` for ``python:3.11``: what bytecode and vendored wheels must be built for."""
    return kind.partition(":")[2]


def read_code(value: str, base: pathlib.Path) -> PythonCode:
    """``function:`` relative to the file that declares it, as App Builder resolves it."""
    try:
        path = (base / value).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a loop of links, a NUL
        raise CodeError(f"{value!r} is not a usable path: {exc}") from None
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise CodeError(f"{value} is a folder without __init__.py; the action's main must "
                            "be importable from the package")
        code: PythonCode = PythonPackage(path)
    elif not path.is_file():
        raise CodeError(f"{value} does not exist")
    elif path.suffix != ".py":
        raise CodeError(f"{value} is not a .py file")
    else:
        code = PythonFile(path)
    for part in module_parts(path):
        if not part.isidentifier():
            raise CodeError(f"{value} cannot be imported: '{part}' is not a valid Python module "
                            "name")
    return code


def module_parts(function: pathlib.Path) -> list[str]:
    parts = [function.stem if function.suffix == ".py" else function.name]
    folder = function.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.append(folder.name)
        folder = folder.parent
    return parts[::-1]
