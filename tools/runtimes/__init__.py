"""Action kinds, one runtime per kind family: how an action's code is read from the manifest,
built into what the server takes, shaped into ``exec``, compared with what the server holds,
watched for changes and run locally.

The manifest side asks a runtime to read an action's code; the deploy side asks it to
build and describe it. Adding a kind family is a :class:`Runtime` subclass and a line in
:data:`RUNTIMES`.
"""

from __future__ import annotations

from tools.runtimes.base import ActionCode, Artifact, CodeError, Runtime, family
from tools.runtimes.python import PythonRuntime

RUNTIMES: dict[str, Runtime] = {runtime.family: runtime for runtime in (PythonRuntime(),)}


def runtime_of(kind: str) -> Runtime | None:
    """The runtime that deploys ``kind`` (``python:3.11`` -> Python), or None."""
    return RUNTIMES.get(family(kind))


def runtime(kind: str) -> Runtime:
    """The runtime of an action's kind, which the manifest reader already checked."""
    found = runtime_of(kind)
    if found is None:
        raise LookupError(f"no runtime for kind {kind!r}")
    return found


__all__ = ["RUNTIMES", "ActionCode", "Artifact", "CodeError", "Runtime", "family", "runtime",
           "runtime_of"]
