"""The manifest's values read one at a time, each fault named by its path in the manifest.

:class:`FieldReader` knows mappings, names, kinds, web flags, limits, annotations
and inputs (plain, typed, init), and substitutes ``$VAR`` in them, noting every
unset variable. It knows nothing of how entities fit together (see entities.py)
nor of the file layouts (see parser.py).
"""

from __future__ import annotations

import pathlib
import re
from collections import ChainMap
from collections.abc import Collection, Hashable, Mapping
from typing import Any

from lib.redact import HIDDEN, is_secret_name
from tools.errors import ManifestError
from tools.manifest.model import LIMIT_RANGES, Limits
from tools.manifest.values import CONVERTERS, NOT_JSON, is_json_scalar, type_name, zero_value
from tools.manifest.variables import UnsetVariablesError, substitute

TYPED_INPUT_KEYS = frozenset({"type", "value", "default", "description", "required", "init"})
WEB_VALUES: dict[object, str] = {True: "yes", "true": "yes", "yes": "yes",
                                 False: "no", "false": "no", "no": "no", "raw": "raw"}
LIMIT_SYNONYMS = {"timeout": "timeout", "memory": "memory", "memorySize": "memory",
                  "logs": "logs", "logSize": "logs", "concurrency": "concurrency"}
# Limits wskdeploy reads and never sends: the server fixes them (a warning, as wskdeploy's).
UNCHANGEABLE_LIMITS = ("concurrentActivations", "userInvocationRate", "codeSize",
                       "parameterSize")
# OpenWhisk's entity name rule (core/entity/EntityPath.scala).
ENTITY_NAME = re.compile(r"[\w](?:[\w@ .-]{0,254}[\w@.-])?", re.ASCII)
MAX_WHISK_AUTH = 2**53 - 1  # JavaScript's largest safe integer: the controller's bound
# An init input becomes an environment variable of the action's process.
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FieldReader:
    """Reads values of the manifest at ``path``; ``declared`` maps a key's manifest path to the
    file that declares it, when App Builder's ``$include`` spread the project over files."""

    def __init__(self, path: pathlib.Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.root = path.resolve().parent
        self.env = env
        self.unset: dict[str, list[str]] = {}
        self.declared: dict[str, pathlib.Path] = {}
        self.warnings: list[str] = []
        # What a $VAR the environment lacks may name: wskdeploy's project inputs.
        self.fallback: dict[str, str] = {}
        self.variables = ChainMap(dict(env), self.fallback)  # the environment wins
        self.web_final = True  # web: yes adds final (wskdeploy); App Builder's layout does not

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the load (render and deploy
        print it)."""
        if message not in self.warnings:
            self.warnings.append(message)

    # --- where things are ---------------------------------------------------------------------

    def declaring_file(self, where: str) -> pathlib.Path:
        """The file holding the key at ``where`` (or its nearest ancestor): the manifest itself
        unless an ``$include`` brought it in."""
        while where:
            if where in self.declared:
                return self.declared[where]
            cut = max(where.rfind("."), where.rfind("["))
            if cut <= 0:
                break
            where = where[:cut]
        return self.path.resolve()

    def display(self, file: pathlib.Path) -> str:
        """A file as the user knows it: relative to the project folder when inside it."""
        try:
            return file.relative_to(self.root).as_posix()
        except ValueError:
            return str(file)

    def place(self, where: str) -> str:
        """``where``, with the file that declares it when ``$include`` spread the project."""
        if len(set(self.declared.values())) < 2:  # one file: the path says it all
            return where
        return f"{where} in {self.display(self.declaring_file(where))}"

    def fault(self, where: str, message: str) -> ManifestError:
        """``<manifest>: <path>: <message>``; a key from an included file is said to be there."""
        if not where:
            return ManifestError(f"{self.path}: {message}")
        file = self.declaring_file(where)
        if file != self.path.resolve():
            message = f"in {self.display(file)}: {message}"
        return ManifestError(f"{self.path}: {where}: {message}")

    # --- shapes and names ---------------------------------------------------------------------

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
        if not ENTITY_NAME.fullmatch(name):
            raise self.fault(where, "is not a valid OpenWhisk name (letters, digits, _ @ . - "
                                    "and inner spaces; at most 256 characters)")
        return name

    def flag(self, value: Any, where: str) -> bool:
        """A true/false key (``public``); absent is false."""
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fault(where, f"must be true or false, not {value!r}")
        return value

    def text(self, value: Any, where: str, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fault(where, f"is required: {what}")
        return value.strip()

    def synonym(self, body: dict[str, Any], where: str, key: str, other: str) -> tuple[str, Any]:
        if key in body and other in body:
            raise self.fault(f"{where}.{other}", f"repeats '{key}': give only one of them")
        used = other if other in body else key
        return f"{where}.{used}", body.get(used)

    # --- action settings ----------------------------------------------------------------------

    def web(self, located: tuple[str, Any]) -> str:
        at, value = located
        if value is None:
            return "no"
        key = value.strip().lower() if isinstance(value, str) else value
        if isinstance(key, Hashable) and key in WEB_VALUES:
            return WEB_VALUES[key]
        raise self.fault(at, f"{value!r} is not one of true, yes, false, no, raw")

    def limits(self, value: Any, where: str) -> Limits:
        """Integers; whether the server allows them is the deploy's preflight to check."""
        body = self.mapping(value, where, (*LIMIT_SYNONYMS, *UNCHANGEABLE_LIMITS))
        found: dict[str, int] = {}
        paths: dict[str, str] = {}
        for key, number in body.items():
            if key in UNCHANGEABLE_LIMITS:
                self.warn(f"{self.place(f'{where}.{key}')}: not changeable through the API; "
                          "ignored, as wskdeploy ignores it")
                continue
            name = LIMIT_SYNONYMS[key]
            if name in found:
                raise self.fault(f"{where}.{key}", f"repeats '{name}': give only one of them")
            if isinstance(number, bool) or not isinstance(number, int):
                raise self.fault(f"{where}.{key}", f"must be an integer ({LIMIT_RANGES[name][2]}), "
                                                   f"not {number!r}")
            found[name], paths[name] = number, f"{where}.{key}"
        return Limits(**found, paths=paths)

    def annotations(self, value: Any, where: str) -> dict[str, Any]:
        return {key: self.resolve(item, f"{where}.{key}")
                for key, item in self.mapping(value, where).items()}

    def web_annotations(self, value: Any, where: str) -> dict[str, Any]:
        """An action's or sequence's annotations, ``require-whisk-auth`` checked as wskdeploy
        checks it: true or false, a non-empty string, or a whole number from 1 to 2^53-2."""
        annotations = self.annotations(value, where)
        export = annotations.get("web-export")
        key = export.strip().lower() if isinstance(export, str) else export
        if export is not None and not (isinstance(key, Hashable) and key in WEB_VALUES):
            raise self.fault(f"{where}.web-export", f"{export!r} is not one of true, yes, "
                                                    "false, no, raw")
        if "require-whisk-auth" in annotations:
            secret = annotations["require-whisk-auth"]
            valid = (isinstance(secret, bool)
                     or (isinstance(secret, str) and secret.strip() != "")
                     or (isinstance(secret, int) and 0 < secret < MAX_WHISK_AUTH))
            if not valid:
                shown = ("a number out of range" if isinstance(secret, int)
                         else "null" if secret is None else repr(secret))
                raise self.fault(f"{where}.require-whisk-auth",
                                 f"{shown} is not a valid value: true, false, a non-empty "
                                 f"string, or a whole number from 1 to {MAX_WHISK_AUTH - 1}")
        return annotations

    # --- inputs -------------------------------------------------------------------------------

    def inputs(self, value: Any, where: str,
               init: set[str] | None = None) -> dict[str, Any]:
        """``KEY: value`` or the typed form; the names of ``init: true`` inputs go into ``init``,
        and where ``init`` is None (not an action's inputs) the key is an error."""
        resolved = {}
        for key, item in self.mapping(value, where).items():
            at = f"{where}.{key}"
            if isinstance(item, dict) and item and TYPED_INPUT_KEYS.issuperset(item) and (
                    {"type", "value", "default"} & item.keys()):
                if "init" in item and self.init_flag(item["init"], at, init):
                    if not _ENVIRONMENT_NAME.fullmatch(key):
                        raise self.fault(at, "an init input becomes an environment variable: "
                                             "its name must be letters, digits and _, not "
                                             "starting with a digit")
                    init.add(key)  # type: ignore[union-attr]  # init_flag refused None
                resolved[key] = self.typed_input(item, at)
            elif isinstance(item, str) and item in CONVERTERS:
                resolved[key] = zero_value(item)  # ``X: integer``: wskdeploy's typed zero
            else:
                resolved[key] = self.resolve(item, at)
        return resolved

    def init_flag(self, value: Any, where: str, init: set[str] | None) -> bool:
        if init is None:
            raise self.fault(f"{where}.init", "only an action's inputs can be init inputs: "
                                              "OpenWhisk passes an action's own parameters "
                                              "at /init, never a package's, trigger's or "
                                              "binding's")
        if not isinstance(value, bool):
            raise self.fault(f"{where}.init", f"must be true or false, not {value!r}")
        return value

    def typed_input(self, spec: dict[str, Any], where: str) -> Any:
        """wskdeploy's ``{type, value, default, description, required}`` form (and ``init``)."""
        value = spec.get("value")
        source = f"{where}.value"
        if value is None and "default" in spec:
            value, source = spec["default"], f"{where}.default"
        if value is None and spec.get("required") is True:
            raise self.fault(where, "is required but has no value or default")
        unset_before = len(self.unset)
        value = self.resolve(value, source)
        if len(self.unset) > unset_before or "type" not in spec:
            return value
        converter = CONVERTERS.get(spec["type"]) if isinstance(spec["type"], str) else None
        if converter is None:
            raise self.fault(f"{where}.type", f"unknown type {spec['type']!r} "
                                              f"({', '.join(CONVERTERS)})")
        if value is None:  # a type and nothing else: its zero, as wskdeploy gives it
            return zero_value(spec["type"])
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
                empty: dict[str, list[str]] = {}
                resolved = substitute(value, self.variables, where, empty)
                for name in empty:  # .env.example leaves them so: deployed, it is a blank
                    self.warn(f"{self.place(where)}: ${name} is set but empty")
                return resolved
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
