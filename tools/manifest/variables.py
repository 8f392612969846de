"""``$VAR`` references and the ``.env`` file they are filled from.

wskdeploy and App Builder both turn an unset ``$VAR`` into ``""`` without a
word; here every unset variable is found up front and listed at once, with
the manifest paths that use it.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Mapping

from tools.errors import ManifestError
from tools.textfile import read_env_file

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<open>\{))")




class UnsetVariablesError(ManifestError):
    """Lists EVERY unset $VAR and the manifest paths (inputs/annotations) that use it."""

    def __init__(self, variables: Mapping[str, list[str]], where: str = "") -> None:
        self.variables = {name: list(paths) for name, paths in variables.items()}
        lines = [f"{where}unset variable(s); set them in the .env file or the shell:"]
        lines += [f"  {name}: used by {', '.join(paths)}"
                  for name, paths in sorted(self.variables.items())]
        super().__init__("\n".join(lines))


def load_env(env_file: pathlib.Path | None) -> dict[str, str]:
    """The .env file's values with os.environ winning, as App Builder does.

    Values are taken literally (no ``${X}`` expansion inside .env), like
    Node's dotenv, so a secret holding ``$`` survives intact.
    """
    env: dict[str, str] = {}
    if env_file is not None and env_file.exists():
        env.update(read_env_file(env_file, ManifestError))
    env.update(os.environ)
    return env


def substitute(text: str, env: Mapping[str, str], path: str,
               empty: dict[str, list[str]] | None = None) -> str:
    """``$VAR`` and ``${VAR}`` anywhere; ``$$`` is a literal ``$`` (``$${X}`` is ``${X}``);
    ``${}`` stays; set-but-empty is kept, and noted in ``empty`` (name -> paths)."""
    unset: dict[str, list[str]] = {}

    def replace(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        if match["open"]:
            raise ManifestError(f"{path}: '${{' is not closed (write $$ for a literal $)")
        if match["braced"] == "":
            return "${}"  # no variable: kept as it is, as wskdeploy keeps it
        name = match["bare"] or match["braced"]
        if not _VARIABLE_NAME.fullmatch(name):
            raise ManifestError(f"{path}: '${{{name}}}' is not a variable name")
        value = env.get(name)
        if value is None:
            unset.setdefault(name, [path])
            return ""
        if value == "" and empty is not None:  # set, but to nothing: worth a word
            empty.setdefault(name, []).append(path)
        return value

    result = _REFERENCE.sub(replace, text)
    if unset:
        raise UnsetVariablesError(unset)
    return result

