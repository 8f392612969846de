"""What the zip of an action that shares its IMS tokens must carry: redis-py.

An action whose manifest gives it ``IMS_TOKEN_STORE_URL`` (among its own
inputs or its package's, best as an init parameter) imports redis-py when it
runs (lib/_store_env.py); the OpenWhisk Python image does not carry it, so its
zip does. ``cryptography`` is in the image already. Every other zip stays as it
was: no store input, no redis-py.

redis-py is pure Python: its modules are taken from the distribution installed
beside deploy.py (``pip install -r requirements-dev.txt``), so the build needs
no network and gives the same bytes for the same installed version.
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

from lib._store_env import STORE_URL_VARIABLE
from tools.errors import EXIT_FAILED, ToolError

if TYPE_CHECKING:  # tools.manifest reads kinds from tools.runtimes, which builds with this
    from tools.manifest import Action, Manifest

DISTRIBUTION = "redis"
MIN_PYTHON = (3, 11)  # below 3.11.3 redis-py also needs async-timeout, which is not shipped


class StoreBundleError(ToolError):
    """The zip needs redis-py and it cannot be provided; the message says what to do."""

    exit_status = EXIT_FAILED


def needs_store(manifest: Manifest, action: Action) -> bool:
    """Whether the manifest gives ``action`` the shared token store."""
    return STORE_URL_VARIABLE in manifest.parameters(action)


def store_files(manifest: Manifest, action: Action, python_version: str) -> dict[str, bytes]:
    """Zip path -> bytes of redis-py for an action with the store; nothing for any other."""
    if not needs_store(manifest, action):
        return {}
    if tuple(int(part) for part in python_version.split(".")[:2]) < MIN_PYTHON:
        raise StoreBundleError(
            f"{action.qualified_name}: {STORE_URL_VARIABLE} needs a python:3.11 or later kind "
            f"(it runs Python {python_version}, where redis-py needs more than its own code)")
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise StoreBundleError(
            f"{action.qualified_name}: {STORE_URL_VARIABLE} is set, so its zip carries redis-py, "
            "which is not installed here: pip install -r requirements-dev.txt") from None
    files = {}
    for path in distribution.files or ():
        name = path.as_posix()
        if name.startswith(f"{DISTRIBUTION}/") and name.endswith(".py"):
            files[name] = path.locate().read_bytes()
    if f"{DISTRIBUTION}/__init__.py" not in files:
        raise StoreBundleError(f"{action.qualified_name}: the installed redis-py has no "
                               "modules to ship (a broken install?)")
    return files
