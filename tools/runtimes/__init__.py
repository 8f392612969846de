"""Action kinds, one runtime per kind family: how an action's code is read from the manifest,
built into what the server takes, watched for changes and run locally; the built artifact says
how it is sent (``exec``) and compared with what the server holds.

Python actions get their zip built here (lib/, bytecode, a load check); every other family's
code is shipped as it is (as_is.py). Adding a kind family is a :class:`Runtime` subclass and a
line in :data:`RUNTIMES`.
"""

from __future__ import annotations

from tools.runtimes.as_is import AsIsRuntime
from tools.runtimes.base import ActionCode, Artifact, CodeError, Runtime, family
from tools.runtimes.python import PythonRuntime

RUNTIMES: dict[str, Runtime] = {runtime.family: runtime for runtime in (PythonRuntime(),)}
AS_IS = AsIsRuntime()  # every other family: Node.js, Java, Swift, docker …


def runtime(kind: str) -> Runtime:
    """The runtime that deploys ``kind`` (``python:3.11`` -> Python; ``nodejs:20`` -> as is)."""
    return RUNTIMES.get(family(kind), AS_IS)


__all__ = ["AS_IS", "RUNTIMES", "ActionCode", "Artifact", "CodeError", "Runtime", "family",
           "runtime"]
