"""Where a project is read from: its manifest (with the files that manifest includes) and its
``.env``. Every command loads a project through :class:`ProjectSource`, and both watchers
(``deploy.py watch`` and ``--serve --watch``) watch the files it knows the project reads.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator

from tools.errors import ManifestError
from tools.manifest import Manifest, load_env, load_manifest
from tools.manifest.deployment import watched_paths
from tools.runtimes import runtime

DEFAULT_ENV_FILE = pathlib.Path(".env")
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules"})


class ProjectSource:
    """A manifest and an env file (None: the shell's variables only). ``env_required``: the
    env file was named on the command line, so it must exist. ``deployment``: wskdeploy's
    deployment file (None: ``deployment.yaml`` or ``.yml`` beside the manifest, if any)."""

    def __init__(self, manifest: pathlib.Path, env_file: pathlib.Path | None = DEFAULT_ENV_FILE,
                 *, env_required: bool = False, deployment: pathlib.Path | None = None) -> None:
        self.manifest_path = manifest
        self.env_file = env_file
        self.env_required = env_required
        self.deployment = deployment

    @classmethod
    def from_flags(cls, manifest: pathlib.Path, env_file: pathlib.Path | None,
                   deployment: pathlib.Path | None = None) -> ProjectSource:
        """``--manifest``, ``--env-file`` and ``--deployment`` as given (no --env-file: ``.env``
        if present)."""
        return cls(manifest, env_file or DEFAULT_ENV_FILE, env_required=env_file is not None,
                   deployment=deployment)

    def env(self) -> dict[str, str]:
        """The variables for the manifest's ``$VAR``: the env file's, the shell winning."""
        if self.env_required and self.env_file is not None and not self.env_file.is_file():
            raise ManifestError(f"--env-file {self.env_file}: no such file")
        return load_env(self.env_file)

    def load(self, env: dict[str, str] | None = None, *,
             blank_unset: Callable[[str], bool] | None = None) -> Manifest:
        return load_manifest(self.manifest_path, self.env() if env is None else env,
                             blank_unset=blank_unset, deployment=self.deployment)

    def roots(self, manifest: Manifest | None) -> list[pathlib.Path]:
        """The files and folders whose change means the project must be read (or built) again:
        the manifest and every file it included, the env file, the deployment file, and each
        action's code as its runtime sees it; before a manifest could be read, the manifest,
        the env file and the deployment file."""
        found = [self.manifest_path.resolve()]
        if self.env_file is not None:
            found.append(self.env_file.resolve())
        found += watched_paths(self.manifest_path, self.deployment, manifest is not None)
        if manifest is not None:
            found += manifest.files
            for action in manifest.actions():
                found += runtime(action.kind).watched_files(action, manifest.root)
        return list(dict.fromkeys(found))

    def watched_files(self, manifest: Manifest | None) -> list[pathlib.Path]:
        """Every file under :meth:`roots`, less hidden ones and caches; a root that does not
        exist is listed too, so that creating it is a change."""
        return list(dict.fromkeys(path for root in self.roots(manifest)
                                  for path in files_under(root)))


def files_under(root: pathlib.Path) -> Iterator[pathlib.Path]:
    if not root.is_dir():
        yield root
        return
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders
                            if not name.startswith(".") and name not in _SKIPPED_FOLDERS)
        for name in sorted(names):
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")):
                yield pathlib.Path(folder, name)
