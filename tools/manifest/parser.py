"""The deployment manifest: parsed, checked and resolved against ``.env`` before anything is sent.

wskdeploy and App Builder both turn an unset ``$VAR`` into ``""`` without a
word, and only find a bad limit or kind when the server refuses it half-way
through a deploy. Here every fault is found up front and named by its path in
the manifest (``packages.dx-excshell-1.actions.generic.limits.timeout``), and
every unset variable is listed at once.

Three layouts are read: wskdeploy's ``packages:`` and ``project: {name, packages}``,
and App Builder's, where ``runtimeManifest: {packages}`` sits at the top (an
ext.config.yaml), under ``application`` or under each of ``extensions``, spread
over files with ``$include`` (an app.config.yaml). App Builder's other keys
(``operations``, ``hooks``, ``web`` …) do not concern the runtime and are left alone.

The deploy tool and the local runner share this module; it lives in tools/
because the deployed action never needs it.
"""


from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from tools.errors import ManifestError
from tools.manifest.app_config import (
    APP_PACKAGE,
    INCLUDE,
    PACKAGE_JSON,
    IncludeResolver,
    app_package,
)
from tools.manifest.deployment import (
    Deployment,
    find_deployment,
    load_deployment,
    refuse_as_manifest,
)
from tools.manifest.entities import Draft, EntityReader
from tools.manifest.model import Manifest
from tools.manifest.references import assemble
from tools.manifest.variables import UnsetVariablesError
from tools.manifest.yaml_file import load_yaml_file

WSKDEPLOY_LAYOUTS = ("packages", "project")
APP_BUILDER_LAYOUTS = ("runtimeManifest", "application", "extensions")
LAYOUTS = (*WSKDEPLOY_LAYOUTS, *APP_BUILDER_LAYOUTS)
# wskdeploy's project keys; all but name, inputs and packages are descriptive or ignored.
PROJECT_KEYS = ("name", "version", "packages", "inputs", "namespace", "credential", "apiHost",
                "apigwAccessToken", "config", "description")
RUNTIME_MANIFEST_KEYS = ("packages",)
AIO_MANAGED_FILE = "manifest.yml"  # what aio writes as whisk-managed's file, whatever it read


# Looked for in this order when no --manifest is given: wskdeploy's, then App Builder's.
MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "app.config.yaml")


def default_manifest(folder: pathlib.Path = pathlib.Path()) -> pathlib.Path:
    """The project's manifest in ``folder``: the first of MANIFEST_NAMES that exists."""
    return next((folder / name for name in MANIFEST_NAMES if (folder / name).is_file()),
                folder / MANIFEST_NAMES[0])


def load_manifest(path: pathlib.Path, env: Mapping[str, str], *,
                  blank_unset: Callable[[str], bool] | None = None,
                  deployment: pathlib.Path | None = None) -> Manifest:
    """Parse, validate and resolve; accepts the wskdeploy and App Builder layouts.

    An unset ``$VAR`` is an error, unless ``blank_unset`` holds for every manifest path
    that uses it: then it stands for ``""`` (the sandbox supplies those credentials, or
    only the manifest's shape matters). ``deployment``: wskdeploy's deployment file laid over
    the manifest (None: ``deployment.yaml`` or ``.yml`` beside the manifest, if there is one).
    """
    try:
        return _load(path, env, deployment)
    except UnsetVariablesError as exc:
        blanks = {name: "" for name, paths in exc.variables.items()
                  if blank_unset is not None and all(blank_unset(p) for p in paths)}
        if not blanks:
            raise
        return _load(path, {**env, **blanks}, deployment)  # raises for the other unset ones


def _load(path: pathlib.Path, env: Mapping[str, str],
          deployment: pathlib.Path | None = None) -> Manifest:
    document = load_yaml_file(path, missing="no such file (pass --manifest)")
    refuse_as_manifest(path, document)
    bound = load_deployment(find_deployment(path, deployment))
    try:
        return _Parser(path, env).manifest(document, bound)
    except RecursionError:  # the parser recurses into nested values, as the YAML reader does
        raise ManifestError(f"{path}: nested too deeply") from None


class _Parser(EntityReader):
    """Walks the document once, keeping the path of every value for error messages."""

    def manifest(self, document: Any, deployment: Deployment | None = None) -> Manifest:
        if not isinstance(document, dict):
            raise ManifestError(f"{self.path}: must be a mapping with "
                                f"one of {', '.join(LAYOUTS)} at the top")
        self.refuse_apis(document, "")
        wskdeploy = [key for key in WSKDEPLOY_LAYOUTS if key in document]
        app_builder = [key for key in (*APP_BUILDER_LAYOUTS, INCLUDE) if key in document]
        if bool(wskdeploy) + bool(app_builder) != 1:
            found = ", ".join(wskdeploy + app_builder) or "none of them"
            others = [str(key) for key in document if key not in (*LAYOUTS, INCLUDE)]
            also = f" (its top-level keys: {', '.join(others)})" if others else ""
            raise ManifestError(f"{self.path}: needs {', '.join(WSKDEPLOY_LAYOUTS)} (wskdeploy) "
                                f"or {', '.join(APP_BUILDER_LAYOUTS)} (App Builder) at the top, "
                                f"not both; found {found}{also}")
        files = [self.path.resolve()]
        if wskdeploy:
            sections, project = self.wskdeploy(document)
        else:
            includes = IncludeResolver(self)
            sections, project = self.app_builder(includes.expand(document))
            files += [*includes.loaded, self.root / PACKAGE_JSON]
        if deployment is not None:
            sections = deployment.bind(self, sections, project if wskdeploy else None)
            files.append(deployment.path.resolve())
        drafts: list[Draft] = []
        for where, packages in sections:
            body = self.mapping(packages, where)
            if not body:
                raise self.fault(where, "defines no package")
            drafts += [self.package(name, value, f"{where}.{name}")
                       for name, value in body.items()]
        for draft in drafts:  # project inputs reach every package; a package's own value wins
            draft.inputs = {**self.project_inputs, **draft.inputs}
        packages, triggers, rules, bindings = assemble(self, drafts)
        if self.unset:
            raise UnsetVariablesError(self.unset, f"{self.path}: ")
        return Manifest(self.path.resolve(), packages, triggers=triggers, rules=rules,
                        bindings=bindings, project=project, files=tuple(dict.fromkeys(files)),
                        warnings=tuple(self.warnings), managed_file=self.managed_file)

    def wskdeploy(self, document: dict[str, Any]) -> tuple[list[tuple[str, Any]], str | None]:
        """``packages:``, ``project: {name, inputs, packages}``, or both, as wskdeploy reads
        them."""
        self.mapping(document, "", WSKDEPLOY_LAYOUTS)
        sections = [("packages", document["packages"])] if "packages" in document else []
        if "project" not in document:
            return sections, None
        self.refuse_apis(document["project"], "project")
        section = self.mapping(document["project"], "project", PROJECT_KEYS)
        if "packages" in section:
            sections.insert(0, ("project.packages", section["packages"]))
        elif not sections:
            raise self.fault("project", "has no 'packages'")
        self.project_inputs = self.inputs(section.get("inputs"), "project.inputs")
        self.fallback.update({name: value if isinstance(value, str) else json.dumps(value)
                              for name, value in self.project_inputs.items()
                              if value is not None and not isinstance(value, (dict, list))})
        project = None
        if "name" in section:
            project = self.text(self.resolve(section["name"], "project.name"), "project.name",
                                "the project's name")
        return sections, project

    def app_builder(self, document: dict[str, Any]
                    ) -> tuple[list[tuple[str, Any]], str | None]:
        """Every runtimeManifest: the top one, the application's, each extension's."""
        self.web_final = False  # aio never adds final to a web action by itself
        sections = []
        if "runtimeManifest" in document:
            sections.append(self.runtime_manifest(document["runtimeManifest"],
                                                  "runtimeManifest"))
        if "application" in document:
            application = self.mapping(document["application"], "application")
            if "runtimeManifest" in application:
                sections.append(self.runtime_manifest(application["runtimeManifest"],
                                                      "application.runtimeManifest"))
        for name, extension in self.mapping(document.get("extensions"), "extensions").items():
            body = self.mapping(extension, f"extensions.{name}")
            if "runtimeManifest" in body:
                sections.append(self.runtime_manifest(body["runtimeManifest"],
                                                      f"extensions.{name}.runtimeManifest"))
        if not sections:
            raise self.fault("", "no runtimeManifest at the top, under application or under "
                                 "an extension: there is nothing to deploy")
        # aio's project: the app's package (``__APP_PACKAGE__``), else the first package named
        self.app_package, self.managed_file = app_package(self.path), AIO_MANAGED_FILE
        where, first_section = sections[0]
        first = next(iter(self.mapping(first_section, where)), APP_PACKAGE)
        return sections, self.named(first, f"{where}.{first}")

    def runtime_manifest(self, value: Any, where: str) -> tuple[str, Any]:
        self.refuse_apis(value, where)
        section = self.mapping(value, where, RUNTIME_MANIFEST_KEYS)
        if "packages" not in section:
            raise self.fault(where, "has no 'packages'")
        return f"{where}.packages", section["packages"]
