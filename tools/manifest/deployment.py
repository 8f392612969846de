"""wskdeploy's deployment file: inputs and annotations bound to a manifest's entities.

A deployment file (``deployment.yaml``) keeps what differs between targets (an
account, a region, a channel) out of the manifest. wskdeploy reads one beside the
project, or the one ``--deployment`` names; its package, action and trigger inputs
and annotations replace the manifest's of the same name and add the ones the
manifest lacks (deployers/deploymentreader.go ``BindAssets``).

Here the deployment document is laid over the manifest document *before* the
entities are read, so a bound value goes through the very same reader: ``$VAR``
substitution with its unset-variable listing, typed inputs, secrets masking. The
reader's ``declared`` map records that each bound key comes from the deployment
file, so a bad value is reported "in deployment.yaml".

Stricter than wskdeploy, which only warns: a package, action or trigger the
manifest lacks is an error, because a binding that silently binds nothing is a
deploy with the wrong credentials. The file is read as strictly as the manifest:
an unknown key is refused by its path.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

from tools.errors import ManifestError
from tools.manifest.deployment_overlay import BOUND_KEYS, Overlay
from tools.manifest.reader import FieldReader
from tools.manifest.yaml_file import load_yaml_file

DEPLOYMENT_NAMES = ("deployment.yaml", "deployment.yml")  # wskdeploy's order
TOP_KEYS = ("project", "packages")
PROJECT_KEYS = ("name", "packages", "inputs")
PACKAGE_KEYS = ("inputs", "annotations", "actions", "triggers")
# Manifest keys a deployment file cannot change: named, so a manifest given as the
# deployment file, or a key wskdeploy parses but never binds, gets a message that says so.
_CODE_KEYS = frozenset({"function", "code", "docker", "native", "location", "runtime", "kind",
                        "main", "limits", "web", "web-export", "include"})
_MANIFEST_KEYS = _CODE_KEYS | {"sequences", "rules", "dependencies", "apis", "feed", "version",
                               "license", "public", "description", "outputs", "config"}
_UNBOUND = ("belongs in the manifest: a deployment file binds only inputs and annotations "
            "(wskdeploy binds nothing else from it)")
_CREDENTIAL_KEYS = frozenset({"namespace", "credential", "apiHost", "apigwAccessToken"})
_CREDENTIALS = ("is not read from a deployment file: give the host and key with --apihost "
                "and --auth, AIO_RUNTIME_* variables or ~/.wskprops")
_AS_MANIFEST = ("{path} is a wskdeploy deployment file (it binds inputs to a manifest's "
                "entities); pass it as --deployment and the manifest as --manifest")


@dataclass(frozen=True)
class Bound:
    """One entity's inputs and annotations, and where the deployment file gives them."""

    where: str
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BoundPackage:
    own: Bound
    actions: dict[str, Bound] = field(default_factory=dict)
    triggers: dict[str, Bound] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    """A deployment file, checked; :meth:`bind` lays it over a manifest's packages."""

    path: pathlib.Path
    project: str | None = None
    inputs: Bound = field(default_factory=lambda: Bound("project.inputs"))
    packages: dict[str, BoundPackage] = field(default_factory=dict)

    def bind(self, reader: FieldReader, sections: list[tuple[str, Any]],
             project: str | None) -> list[tuple[str, Any]]:
        """The manifest's ``(path, packages)`` sections with this file's values laid over them
        (new dicts: the manifest's may be shared through YAML aliases). ``project``: the
        manifest's ``project.name``, which this file's must match."""
        faults = FieldReader(self.path, {})
        # $VAR resolved as in the manifest's name, so the two compare alike.
        name = None if self.project is None else reader.resolve(self.project, "project.name")
        if project is not None and name is not None and project != name:
            raise faults.fault("project.name", f"{name!r} is not the manifest's project "
                                               f"{project!r} (project.name in {reader.path}): a "
                                               "deployment file binds values to its own project")
        return Overlay(reader, faults, self, sections).apply()


def find_deployment(manifest: pathlib.Path, named: pathlib.Path | None) -> pathlib.Path | None:
    """``--deployment`` when given (it must exist), else ``deployment.yaml`` or ``.yml`` beside
    the manifest, as wskdeploy finds one in the project folder; None when there is none."""
    if named is not None:
        if not named.exists():
            raise ManifestError(f"--deployment {named}: no such file")
        return named
    return next((path for path in candidates(manifest) if path.exists()), None)


def candidates(manifest: pathlib.Path) -> list[pathlib.Path]:
    return [manifest.parent / name for name in DEPLOYMENT_NAMES]


def watched_paths(manifest: pathlib.Path, named: pathlib.Path | None,
                  loaded: bool) -> list[pathlib.Path]:
    """The deployment files a watcher watches: the named one; else, once the project loaded,
    both names beside the manifest (creating one is a change), before that the ones there."""
    if named is not None:
        return [named.resolve()]
    return [path.resolve() for path in candidates(manifest) if loaded or path.exists()]


def load_deployment(path: pathlib.Path | None) -> Deployment | None:
    """The checked deployment file at ``path`` (None: there is none); ManifestError naming the
    file for an unreadable file, bad YAML or an unknown key."""
    if path is None:
        return None
    document = load_yaml_file(path)
    try:
        return _read(FieldReader(path, {}), document)
    except RecursionError:
        raise ManifestError(f"{path}: nested too deeply") from None


def refuse_as_manifest(path: pathlib.Path, document: Any) -> None:
    """A deployment file given as the manifest is named as what it is: a document that reads
    as a deployment file (so it declares no code at all) and binds inputs or annotations to an
    action, or is called deployment.yaml. A package of inputs or triggers alone may be a
    manifest."""
    if not isinstance(document, dict) or not any(key in document for key in TOP_KEYS):
        return
    try:
        deployment = _read(FieldReader(path, {}), document)
    except ManifestError:
        return  # it declares code, or something else: the manifest reader says what
    binds_actions = any(action.inputs or action.annotations
                        for package in deployment.packages.values()
                        for action in package.actions.values())
    if binds_actions or path.name.lower() in DEPLOYMENT_NAMES:
        raise ManifestError(_AS_MANIFEST.format(path=path))


# --- reading the file -------------------------------------------------------------------------

def _read(reader: FieldReader, document: Any) -> Deployment:
    path = reader.path
    if document is None:
        return Deployment(path)  # an empty file binds nothing
    top = _mapping(reader, document, "", TOP_KEYS)
    project = _mapping(reader, top.get("project"), "project", PROJECT_KEYS)
    if project.get("packages") is not None and top.get("packages") is not None:
        raise reader.fault("packages", "give the packages under project: or at the top, not "
                                       "both (wskdeploy would ignore these)")
    where = "packages" if top.get("packages") is not None else "project.packages"
    name = None
    if project.get("name") is not None:
        name = reader.text(project["name"], "project.name", "the project's name")
    return Deployment(path, project=name,
                      inputs=Bound("project.inputs",
                                   inputs=reader.mapping(project.get("inputs"), "project.inputs")),
                      packages=_packages(reader, top.get("packages", project.get("packages")),
                                         where))


def _packages(reader: FieldReader, value: Any, where: str) -> dict[str, BoundPackage]:
    packages = {}
    for name, body in reader.mapping(value, where).items():
        at = f"{where}.{name}"
        spec = _mapping(reader, body, at, PACKAGE_KEYS)
        packages[name] = BoundPackage(
            own=_bound(reader, spec, at),
            actions=_entities(reader, spec.get("actions"), f"{at}.actions"),
            triggers=_entities(reader, spec.get("triggers"), f"{at}.triggers"))
    return packages


def _entities(reader: FieldReader, value: Any, where: str) -> dict[str, Bound]:
    return {name: _bound(reader, _mapping(reader, body, f"{where}.{name}", BOUND_KEYS),
                         f"{where}.{name}")
            for name, body in reader.mapping(value, where).items()}


def _bound(reader: FieldReader, spec: dict[str, Any], where: str) -> Bound:
    return Bound(where, inputs=reader.mapping(spec.get("inputs"), f"{where}.inputs"),
                 annotations=reader.mapping(spec.get("annotations"), f"{where}.annotations"))


def _mapping(reader: FieldReader, value: Any, where: str,
             known: tuple[str, ...]) -> dict[str, Any]:
    """``reader.mapping``, with a word on the keys a manifest has and a deployment file
    cannot."""
    if isinstance(value, dict):
        for key in value:
            at = f"{where}.{key}" if where else str(key)
            if key in _CREDENTIAL_KEYS:
                raise reader.fault(at, _CREDENTIALS)
            if key in _MANIFEST_KEYS and key not in known:
                hint = (" (is this file the manifest? pass it as --manifest)"
                        if key in _CODE_KEYS else "")
                raise reader.fault(at, _UNBOUND + hint)
            if isinstance(key, str) and key not in known and where:
                raise reader.fault(at, f"unknown key (known in a deployment file: "
                                       f"{', '.join(known)})")
    return reader.mapping(value, where, known)
