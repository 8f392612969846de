"""Where a project is read from: its manifest (with the files that manifest includes) and its
``.env``. Every command loads a project through :class:`ProjectSource`, and both watchers
(``deploy.py watch`` and ``--serve --watch``) watch the files it knows it read.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from tools.errors import ManifestError
from tools.manifest import Manifest, load_env, load_manifest
from tools.runtimes import runtime

DEFAULT_ENV_FILE = pathlib.Path(".env")


class ProjectSource:
    """A manifest and an env file; ``env_file`` None means the default ``.env`` if present
    (``explicit_env`` False: the caller named none), and an env file named on the command
    line must exist."""

    def __init__(self, manifest: pathlib.Path, env_file: pathlib.Path | None = None, *,
                 explicit_env: bool = True) -> None:
        self.manifest_path = manifest
        self.explicit_env = explicit_env and env_file is not None
        self.env_file = env_file if env_file is not None else DEFAULT_ENV_FILE

    def env(self) -> dict[str, str]:
        """The variables for the manifest's ``$VAR``: the env file's, the shell winning."""
        if self.explicit_env and not self.env_file.is_file():
            raise ManifestError(f"--env-file {self.env_file}: no such file")
        return load_env(self.env_file)

    def load(self, env: dict[str, str] | None = None, *,
             blank_unset: Callable[[str], bool] | None = None) -> Manifest:
        return load_manifest(self.manifest_path, self.env() if env is None else env,
                             blank_unset=blank_unset)

    def files(self, manifest: Manifest | None) -> list[pathlib.Path]:
        """The files whose change means the project must be read (or built) again: the manifest,
        every file it included, the env file, and each action's code as its runtime sees it;
        before a manifest could be read, the manifest and the env file."""
        found = [self.manifest_path.resolve(), self.env_file.resolve()]
        if manifest is not None:
            found += manifest.files
            for action in manifest.actions():
                found += runtime(action.kind).watched_files(action, manifest.root)
        return list(dict.fromkeys(found))
