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

import json
import math
import os
import pathlib
import re
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from dotenv import dotenv_values

from lib._redact import HIDDEN, is_secret_name, redact

LAYOUTS = ("packages", "project", "runtimeManifest")
PACKAGE_KEYS = ("actions", "inputs", "annotations", "license", "version")
ACTION_KEYS = ("function", "runtime", "kind", "main", "web", "web-export", "inputs",
               "annotations", "limits")
PROJECT_KEYS = ("name", "version", "packages")
TYPED_INPUT_KEYS = frozenset({"type", "value", "default", "description", "required"})
WEB_VALUES: dict[object, str] = {True: "yes", "true": "yes", "yes": "yes",
                                 False: "no", "false": "no", "no": "no", "raw": "raw"}
# OpenWhisk's ranges on a stock deployment: name -> (low, high, unit).
LIMIT_RANGES: dict[str, tuple[int, int, str]] = {
    "timeout": (100, 300_000, "ms"),
    "memory": (128, 512, "MB"),
    "logs": (0, 10, "MB"),
    "concurrency": (1, 500, "activations"),
}
LIMIT_SYNONYMS = {"timeout": "timeout", "memory": "memory", "memorySize": "memory",
                  "logs": "logs", "logSize": "logs", "concurrency": "concurrency"}
# lib/ needs Python 3.10 or newer; OpenWhisk names its Python kinds python:3.N.
_KIND = re.compile(r"python:3\.(\d+)")
MIN_PYTHON_MINOR = 10
# OpenWhisk's entity name rule (core/entity/EntityPath.scala).
_ENTITY_NAME = re.compile(r"[\w](?:[\w@ .-]{0,254}[\w@.-])?", re.ASCII)
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|(?P<open>\{))")


class ManifestError(Exception):
    """Anything wrong with the manifest or its variables; the message names where."""


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
        try:
            values = dotenv_values(env_file, interpolate=False)
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{env_file}: cannot read: {exc}") from None
        env.update({k: v for k, v in values.items() if v is not None})
    env.update(os.environ)
    return env


def substitute(text: str, env: Mapping[str, str], path: str) -> str:
    """``$VAR`` and ``${VAR}`` anywhere; ``$$`` is a literal ``$``; set-but-empty is kept."""
    unset: dict[str, list[str]] = {}

    def replace(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        if match["open"]:
            raise ManifestError(f"{path}: '${{' is not closed (write $$ for a literal $)")
        name = match["bare"] or match["braced"]
        if not _VARIABLE_NAME.fullmatch(name):
            raise ManifestError(f"{path}: '${{{name}}}' is not a variable name")
        value = env.get(name)
        if value is None:
            unset.setdefault(name, [path])
            return ""
        return value

    result = _REFERENCE.sub(replace, text)
    if unset:
        raise UnsetVariablesError(unset)
    return result


@dataclass(frozen=True)
class Limits:
    timeout: int | None = None  # ms
    memory: int | None = None  # MB
    logs: int | None = None  # MB
    concurrency: int | None = None

    def to_api(self) -> dict[str, int]:
        """Only the limits the manifest sets, so the server keeps its defaults for the rest."""
        return {name: getattr(self, name) for name in LIMIT_RANGES
                if getattr(self, name) is not None}


@dataclass(frozen=True)
class Action:
    package: str
    name: str
    function: pathlib.Path  # absolute: a .py file or a package folder
    kind: str
    main: str
    web: str  # "yes" | "no" | "raw"
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    @property
    def qualified_name(self) -> str:
        return f"{self.package}/{self.name}"

    @property
    def module(self) -> str:
        """The import path of the action code, from the chain of ``__init__.py`` above it."""
        return ".".join(_module_parts(self.function))

    @property
    def source_root(self) -> pathlib.Path:
        """The folder the module path is relative to (what goes on sys.path)."""
        return self.function.parents[len(_module_parts(self.function)) - 1]

    @property
    def python_version(self) -> str:
        """``3.11`` for ``python:3.11``: what vendored wheels must be built for."""
        return self.kind.partition(":")[2]

    def web_annotations(self) -> dict[str, Any]:
        """What ``wsk --web`` sets; ``final`` keeps callers from overriding the inputs."""
        if self.web == "no":
            return {}
        return {"web-export": True, "raw-http": self.web == "raw", "final": True}

    def all_annotations(self) -> dict[str, Any]:
        """The web annotations, with the user's explicit ones winning."""
        return {**self.web_annotations(), **self.annotations}

    def stale_annotations(self) -> list[str]:
        """Web annotations an earlier deploy may have left, to delete when web is off."""
        if self.web != "no":
            return []
        return [key for key in ("web-export", "raw-http", "final") if key not in self.annotations]


@dataclass(frozen=True)
class Package:
    name: str
    actions: tuple[Action, ...]
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    path: pathlib.Path
    packages: tuple[Package, ...]

    @property
    def root(self) -> pathlib.Path:
        """The project folder: function paths are relative to it, and lib/ is taken from it."""
        return self.path.parent

    def actions(self) -> list[Action]:
        return [action for package in self.packages for action in package.actions]

    def action(self, name: str) -> Action:
        """By ``name`` or ``package/name``."""
        found = [a for a in self.actions() if name in (a.name, a.qualified_name)]
        if len(found) == 1:
            return found[0]
        if not found:
            known = ", ".join(a.qualified_name for a in self.actions()) or "none"
            raise ManifestError(f"{self.path}: no action '{name}' (actions: {known})")
        names = ", ".join(a.qualified_name for a in found)
        raise ManifestError(f"{self.path}: '{name}' is ambiguous ({names}); "
                            "write it as package/action")

    def package(self, name: str) -> Package:
        return next(p for p in self.packages if p.name == name)

    def parameters(self, action: Action) -> dict[str, Any]:
        """What the action receives at run time: package inputs overlaid by its own."""
        return {**self.package(action.package).inputs, **action.inputs}


def load_manifest(path: pathlib.Path, env: Mapping[str, str]) -> Manifest:
    """Parse, validate and resolve; accepts the wskdeploy and App Builder layouts."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file (pass --manifest)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        return _Parser(path, env).manifest(document)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:  # the YAML reader and the parser both recurse into nested values
        raise ManifestError(f"{path}: nested too deeply") from None


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-named keys hidden, at any depth.

    A true/false is no secret: ``require-adobe-auth: false`` stays readable.
    """
    hidden = redact(dict(values))
    return {key: values[key] if isinstance(values[key], bool) else value
            for key, value in hidden.items()}


def render(manifest: Manifest, *, show_secrets: bool = False) -> str:
    """The resolved manifest as YAML in the plain ``packages`` layout."""
    shown: Callable[[Mapping[str, Any]], dict[str, Any]] = dict if show_secrets else masked
    packages: dict[str, Any] = {}
    for package in manifest.packages:
        entry: dict[str, Any] = {}
        if package.inputs:
            entry["inputs"] = shown(package.inputs)
        if package.annotations:
            entry["annotations"] = shown(package.annotations)
        entry["actions"] = {action.name: _render_action(action, manifest.root, shown)
                            for action in package.actions}
        packages[package.name] = entry
    return yaml.safe_dump({"packages": packages}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False)


def _render_action(action: Action, root: pathlib.Path,
                   shown: Callable[[Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    try:
        function = action.function.relative_to(root).as_posix()
    except ValueError:
        function = action.function.as_posix()
    entry: dict[str, Any] = {"function": function, "runtime": action.kind, "main": action.main,
                             "web": action.web}
    if action.inputs:
        entry["inputs"] = shown(action.inputs)
    if action.annotations:
        entry["annotations"] = shown(action.annotations)
    if action.limits.to_api():
        entry["limits"] = action.limits.to_api()
    return entry


def _module_parts(function: pathlib.Path) -> list[str]:
    parts = [function.stem if function.suffix == ".py" else function.name]
    folder = function.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.append(folder.name)
        folder = folder.parent
    return parts[::-1]


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of keeping the last one silently."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


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
            raise self.fault(where, f"must be a mapping, not {_type_name(value)}")
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
        for part in _module_parts(function):
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
        converter = _CONVERTERS.get(spec["type"]) if isinstance(spec["type"], str) else None
        if converter is None:
            raise self.fault(f"{where}.type", f"unknown type {spec['type']!r} "
                                              f"({', '.join(_CONVERTERS)})")
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
                if not _is_json_scalar(key):
                    raise self.fault(f"{where}.{key}", _NOT_JSON.format(type(key).__name__))
            return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
        if not _is_json_scalar(value):
            # A date, set or !!binary would only fail later, half-way through a deploy.
            raise self.fault(where, _NOT_JSON.format(type(value).__name__))
        return value


_NOT_JSON = "a YAML {} is not a JSON value; quote it to pass it as a string"


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # JSON has no NaN or infinity
    return value is None or isinstance(value, (str, int, bool))


def _to_string(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TypeError(value)
    return value if isinstance(value, str) else json.dumps(value)


def _to_integer(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise TypeError(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    return float(value)


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}[str(value).strip().lower()]


def _to_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string, "integer": _to_integer, "float": _to_float, "boolean": _to_boolean,
    "json": _to_json,
}


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)
