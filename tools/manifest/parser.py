"""The deployment manifest: parsed, checked and resolved against ``.env`` before anything is sent.

wskdeploy and App Builder both turn an unset ``$VAR`` into ``""`` without a
word, and only find a bad limit or kind when the server refuses it half-way
through a deploy. Here every fault is found up front and named by its path in
the manifest (``packages.dx-excshell-1.actions.generic.limits.timeout``), and
every unset variable is listed at once.

The deploy tool and the local runner share this module; it lives in tools/
because the deployed action never needs it.
"""


from __future__ import annotations

import pathlib
import re
from collections.abc import Callable, Collection, Hashable, Mapping
from typing import Any

import yaml

from lib._redact import HIDDEN, is_secret_name
from tools.errors import ManifestError
from tools.manifest.model import LIMIT_RANGES, Action, Limits, Manifest, Package, module_parts
from tools.manifest.values import CONVERTERS, NOT_JSON, is_json_scalar, type_name
from tools.manifest.variables import UnsetVariablesError, substitute
from tools.manifest.yaml_file import load_yaml
from tools.textfile import read_text

LAYOUTS = ("packages", "project", "runtimeManifest")
PACKAGE_KEYS = ("actions", "inputs", "annotations", "license", "version")
ACTION_KEYS = ("function", "runtime", "kind", "main", "web", "web-export", "inputs",
               "annotations", "limits")
PROJECT_KEYS = ("name", "version", "packages")
TYPED_INPUT_KEYS = frozenset({"type", "value", "default", "description", "required"})
WEB_VALUES: dict[object, str] = {True: "yes", "true": "yes", "yes": "yes",
                                 False: "no", "false": "no", "no": "no", "raw": "raw"}
LIMIT_SYNONYMS = {"timeout": "timeout", "memory": "memory", "memorySize": "memory",
                  "logs": "logs", "logSize": "logs", "concurrency": "concurrency"}
# lib/ needs Python 3.10 or newer; OpenWhisk names its Python kinds python:3.N.
_KIND = re.compile(r"python:3\.(\d+)")
MIN_PYTHON_MINOR = 10
# OpenWhisk's entity name rule (core/entity/EntityPath.scala).
_ENTITY_NAME = re.compile(r"[\w](?:[\w@ .-]{0,254}[\w@.-])?", re.ASCII)


def load_manifest(path: pathlib.Path, env: Mapping[str, str], *,
                  blank_unset: Callable[[str], bool] | None = None) -> Manifest:
    """Parse, validate and resolve; accepts the wskdeploy and App Builder layouts.

    An unset ``$VAR`` is an error, unless ``blank_unset`` holds for every manifest path
    that uses it: then it stands for ``""`` (the sandbox supplies those credentials, or
    only the manifest's shape matters).
    """
    try:
        return _load(path, env)
    except UnsetVariablesError as exc:
        blanks = {name: "" for name, paths in exc.variables.items()
                  if blank_unset is not None and all(blank_unset(p) for p in paths)}
        if not blanks:
            raise
        return _load(path, {**env, **blanks})  # raises for the other unset ones


def _load(path: pathlib.Path, env: Mapping[str, str]) -> Manifest:
    try:
        text = read_text(path, ManifestError)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file (pass --manifest)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    try:
        document = load_yaml(text)
        return _Parser(path, env).manifest(document)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:  # the YAML reader and the parser both recurse into nested values
        raise ManifestError(f"{path}: nested too deeply") from None



class _Parser:
    """Walks the document once, keeping the path of every value for error messages."""

    def __init__(self, path: pathlib.Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.root = path.resolve().parent
        self.env = env
        self.unset: dict[str, list[str]] = {}

    def fault(self, where: str, message: str) -> ManifestError:
        return ManifestError(f"{self.path}: {where}: {message}" if where
                             else f"{self.path}: {message}")

    def manifest(self, document: Any, at: str = "") -> Manifest:
        if not isinstance(document, dict):
            raise ManifestError(f"{self.path}: must be a mapping with "
                                f"one of {', '.join(LAYOUTS)} at the top")
        layouts = [key for key in LAYOUTS if key in document]
        if not layouts and not at and isinstance(document.get("application"), dict):
            # App Builder's app.config.yaml holds runtimeManifest under application.
            return self.manifest(document["application"], "application.")
        if len(layouts) != 1:
            raise ManifestError(f"{self.path}: needs exactly one of {', '.join(LAYOUTS)} "
                                f"at the top, found {', '.join(layouts) or 'none'}")
        layout = layouts[0]
        if layout == "packages":
            self.mapping(document, "", ("packages",))
            packages, where = document["packages"], "packages"
        else:
            # runtimeManifest sits in App Builder's config beside keys of its own: leave those.
            section = self.mapping(document[layout], f"{at}{layout}",
                                   PROJECT_KEYS if layout == "project" else ("packages",))
            if "packages" not in section:
                raise self.fault(f"{at}{layout}", "has no 'packages'")
            packages, where = section["packages"], f"{at}{layout}.packages"
        parsed = tuple(self.package(name, value, f"{where}.{name}")
                       for name, value in self.mapping(packages, where).items())
        if not parsed:
            raise self.fault(where, "defines no package")
        if self.unset:
            raise UnsetVariablesError(self.unset, f"{self.path}: ")
        return Manifest(self.path.resolve(), parsed)

    def mapping(self, value: Any, where: str,
                known: Collection[str] | None = None) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fault(where, f"must be a mapping, not {type_name(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fault(where, f"key {key!r} must be a string")
            if known is not None and key not in known:
                raise self.fault(f"{where}.{key}" if where else key,
                                 f"unknown key (known: {', '.join(sorted(known))})")
        return value

    def entity_name(self, name: str, where: str) -> str:
        if not _ENTITY_NAME.fullmatch(name):
            raise self.fault(where, "is not a valid OpenWhisk name (letters, digits, _ @ . - "
                                    "and inner spaces; at most 256 characters)")
        return name

    def package(self, name: str, value: Any, where: str) -> Package:
        self.entity_name(name, where)
        body = self.mapping(value, where, PACKAGE_KEYS)
        actions = self.mapping(body.get("actions"), f"{where}.actions")
        if not actions:
            raise self.fault(f"{where}.actions", "defines no action")
        return Package(
            name=name,
            actions=tuple(self.action(name, action_name, spec, f"{where}.actions.{action_name}")
                          for action_name, spec in actions.items()),
            inputs=self.inputs(body.get("inputs"), f"{where}.inputs"),
            annotations=self.annotations(body.get("annotations"), f"{where}.annotations"),
        )

    def action(self, package: str, name: str, value: Any, where: str) -> Action:
        self.entity_name(name, where)
        body = self.mapping(value, where, ACTION_KEYS)
        annotations = self.annotations(body.get("annotations"), f"{where}.annotations")
        if annotations.get("require-adobe-auth", False) not in (False, "false", "no"):
            raise self.fault(f"{where}.annotations.require-adobe-auth",
                             "only false is possible: true needs Adobe I/O Runtime's "
                             "validator actions, which plain OpenWhisk lacks (use "
                             "require-whisk-auth to protect a web action)")
        return Action(
            package=package,
            name=name,
            function=self.function(body.get("function"), f"{where}.function"),
            kind=self.kind(self.synonym(body, where, "runtime", "kind"), where),
            main=self.main(body.get("main", "main"), f"{where}.main"),
            web=self.web(self.synonym(body, where, "web", "web-export"), where),
            inputs=self.inputs(body.get("inputs"), f"{where}.inputs"),
            annotations=annotations,
            limits=self.limits(body.get("limits"), f"{where}.limits"),
        )

    def synonym(self, body: dict[str, Any], where: str, key: str, other: str) -> tuple[str, Any]:
        if key in body and other in body:
            raise self.fault(f"{where}.{other}", f"repeats '{key}': give only one of them")
        used = other if other in body else key
        return f"{where}.{used}", body.get(used)

    def function(self, value: Any, where: str) -> pathlib.Path:
        if not isinstance(value, str) or not value:
            raise self.fault(where, "is required: a .py file or a package folder")
        function = (self.root / value).resolve()
        if function.is_dir():
            if not (function / "__init__.py").is_file():
                raise self.fault(where, f"{value} is a folder without __init__.py; the "
                                        "action's main must be importable from the package")
        elif not function.is_file():
            raise self.fault(where, f"{value} does not exist")
        elif function.suffix != ".py":
            raise self.fault(where, f"{value} is not a .py file")
        for part in module_parts(function):
            if not part.isidentifier():
                raise self.fault(where, f"{value} cannot be imported: '{part}' is not a "
                                        "valid Python module name")
        return function

    def kind(self, located: tuple[str, Any], where: str) -> str:
        at, value = located
        if value is None:
            raise self.fault(f"{where}.runtime", "is required, e.g. python:3.11")
        match = _KIND.fullmatch(str(value))
        if not match or int(match[1]) < MIN_PYTHON_MINOR:
            raise self.fault(at, f"unsupported kind '{value}': this tool deploys Python "
                                 f"actions, python:3.{MIN_PYTHON_MINOR} or newer")
        return str(value)

    def main(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.isidentifier():
            raise self.fault(where, f"{value!r} is not a Python function name")
        return value

    def web(self, located: tuple[str, Any], where: str) -> str:
        at, value = located
        if value is None:
            return "no"
        key = value.strip().lower() if isinstance(value, str) else value
        if isinstance(key, Hashable) and key in WEB_VALUES:
            return WEB_VALUES[key]
        raise self.fault(at, f"{value!r} is not one of true, yes, false, no, raw")

    def limits(self, value: Any, where: str) -> Limits:
        body = self.mapping(value, where, LIMIT_SYNONYMS)
        found: dict[str, int] = {}
        for key, number in body.items():
            name = LIMIT_SYNONYMS[key]
            if name in found:
                raise self.fault(f"{where}.{key}", f"repeats '{name}': give only one of them")
            low, high, unit = LIMIT_RANGES[name]
            if isinstance(number, bool) or not isinstance(number, int) or not (
                    low <= number <= high):
                raise self.fault(f"{where}.{key}",
                                 f"must be an integer from {low} to {high} ({unit}), "
                                 f"not {number!r}")
            found[name] = number
        return Limits(**found)

    def annotations(self, value: Any, where: str) -> dict[str, Any]:
        return {key: self.resolve(item, f"{where}.{key}")
                for key, item in self.mapping(value, where).items()}

    def inputs(self, value: Any, where: str) -> dict[str, Any]:
        resolved = {}
        for key, item in self.mapping(value, where).items():
            at = f"{where}.{key}"
            if isinstance(item, dict) and item and TYPED_INPUT_KEYS.issuperset(item) and (
                    {"type", "value", "default"} & item.keys()):
                resolved[key] = self.typed_input(item, at)
            else:
                resolved[key] = self.resolve(item, at)
        return resolved

    def typed_input(self, spec: dict[str, Any], where: str) -> Any:
        """wskdeploy's ``{type, value, default, description, required}`` form."""
        value = spec.get("value")
        source = f"{where}.value"
        if value is None and "default" in spec:
            value, source = spec["default"], f"{where}.default"
        if value is None and spec.get("required") is True:
            raise self.fault(where, "is required but has no value or default")
        unset_before = len(self.unset)
        value = self.resolve(value, source)
        if len(self.unset) > unset_before or value is None or "type" not in spec:
            return value
        converter = CONVERTERS.get(spec["type"]) if isinstance(spec["type"], str) else None
        if converter is None:
            raise self.fault(f"{where}.type", f"unknown type {spec['type']!r} "
                                              f"({', '.join(CONVERTERS)})")
        try:
            return converter(value)
        except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError):
            # The value may have come from .env: never echo one whose name says secret.
            shown = HIDDEN if is_secret_name(where.rpartition(".")[2]) else value
            raise self.fault(source, f"{shown!r} is not a valid {spec['type']}") from None

    def resolve(self, value: Any, where: str) -> Any:
        """Substitutes variables in every string inside ``value``, noting the unset ones."""
        if isinstance(value, str):
            try:
                return substitute(value, self.env, where)
            except UnsetVariablesError as exc:
                for name, paths in exc.variables.items():
                    self.unset.setdefault(name, []).extend(paths)
                return value
            except ManifestError as exc:
                raise ManifestError(f"{self.path}: {exc}") from None
        if isinstance(value, dict):
            for key in value:
                if not is_json_scalar(key):
                    raise self.fault(f"{where}.{key}", NOT_JSON.format(type(key).__name__))
            return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not is_json_scalar(value):
            # A date, set or !!binary would only fail later, half-way through a deploy.
            raise self.fault(where, NOT_JSON.format(type(value).__name__))
        return value

