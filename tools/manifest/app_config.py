"""App Builder's app.config.yaml: its ``$include`` directives resolved, and the app's name.

``$include: path`` may stand in any mapping: the file (relative to the file that
holds the directive) must hold a mapping, which is merged with the directive's
sibling keys, the siblings winning, as adobe/aio-cli-lib-app-config does. Every
key of the result is noted with the file that declares it, because App Builder
resolves ``function`` and ``include`` paths relative to that file. An include
stays in the project folder (the one of app.config.yaml) once its links are
followed, as the build's sources do. Each included file is a regular file read
under the same size and alias limits as the manifest, and the whole
expansion under the manifest's cap on values, so includes cannot multiply a
small file into a huge document.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml

from tools.errors import ManifestError
from tools.manifest.reader import FieldReader
from tools.manifest.values import type_name
from tools.manifest.yaml_file import MAX_EXPANDED_NODES, load_yaml
from tools.textfile import read_text

INCLUDE = "$include"
PACKAGE_JSON = "package.json"


class IncludeResolver:
    """Expands every ``$include`` of a document read from ``reader.path``, filling
    ``reader.declared`` with the file each key comes from."""

    def __init__(self, reader: FieldReader) -> None:
        self.reader = reader
        self.top = reader.path.resolve()
        self.root = reader.path.absolute().parent.resolve()  # the project folder
        self.loaded: dict[pathlib.Path, dict[Any, Any]] = {}
        self.values = 0

    def expand(self, document: dict[Any, Any]) -> dict[Any, Any]:
        return self._mapping(document, "", (self.top,))

    def _value(self, value: Any, where: str, chain: tuple[pathlib.Path, ...]) -> Any:
        self.values += 1
        if self.values > MAX_EXPANDED_NODES:
            raise ManifestError(f"{self.reader.path}: {INCLUDE}: the included files expand to "
                                f"more than {MAX_EXPANDED_NODES} values")
        if isinstance(value, dict):
            return self._mapping(value, where, chain)
        if isinstance(value, list):
            return [self._value(item, f"{where}[{index}]", chain)
                    for index, item in enumerate(value)]
        return value

    def _mapping(self, value: dict[Any, Any], where: str,
                 chain: tuple[pathlib.Path, ...]) -> dict[Any, Any]:
        if INCLUDE not in value:
            return {key: self._entry(key, item, where, chain) for key, item in value.items()}
        at = _join(where, INCLUDE)
        self.reader.declared[at] = chain[-1]
        file, loaded = self._load(value[INCLUDE], at, chain)
        own = {key: item for key, item in value.items() if key != INCLUDE}
        # The included file may include in turn; what the siblings override is left alone.
        included = self._mapping({key: item for key, item in loaded.items() if key not in own},
                                 where, (*chain, file))
        siblings = {key: self._entry(key, item, where, chain) for key, item in own.items()}
        # {...loaded, ...own}: the included keys first, the siblings winning.
        order = dict.fromkeys(key for key in loaded if key != INCLUDE)
        return {**order, **included, **siblings}

    def _entry(self, key: Any, item: Any, where: str, chain: tuple[pathlib.Path, ...]) -> Any:
        at = _join(where, key)
        self.reader.declared[at] = chain[-1]
        return self._value(item, at, chain)

    def _load(self, target: Any, where: str,
              chain: tuple[pathlib.Path, ...]) -> tuple[pathlib.Path, dict[Any, Any]]:
        if not isinstance(target, str) or not target.strip():
            raise self._fault(where, "must be the path of a YAML file, relative to the file "
                                     f"that holds it, not {target!r}")
        try:
            file = (chain[-1].parent / target).resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # a loop of links, a NUL
            raise self._fault(where, f"{target!r} cannot be resolved: {exc}") from None
        if not file.is_relative_to(self.root):
            # Any YAML or JSON of the machine (a docker config, a token cache) would become
            # deployed inputs: an include stays in the project, its links followed first.
            raise self._fault(where, f"{target!r} leads out of the project folder {self.root} "
                                     f"(to {file}); an include must stay inside it")
        trail = " -> ".join(self.reader.display(link) for link in (*chain, file))
        if file in chain:
            raise self._fault(where, f"include cycle: {trail}")
        if file in self.loaded:
            return file, self.loaded[file]
        shown = self.reader.display(file)
        try:
            document = load_yaml(read_text(file, ManifestError))
        except FileNotFoundError:
            raise self._fault(where, f"{shown}: no such file ({trail})") from None
        except ManifestError as exc:  # over the size cap
            raise self._fault(where, f"{exc} ({trail})") from None
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise self._fault(where, f"{shown}: cannot read: {exc} ({trail})") from None
        except yaml.YAMLError as exc:
            raise self._fault(where, f"{shown}: not valid YAML: {exc} ({trail})") from None
        if not isinstance(document, dict):
            raise self._fault(where, f"{shown} must hold a mapping, not "
                                     f"{type_name(document)} ({trail})")
        self.loaded[file] = document
        return file, document

    def _fault(self, where: str, message: str) -> ManifestError:
        return ManifestError(f"{self.reader.path}: {where}: {message}")


APP_PACKAGE = "__APP_PACKAGE__"  # aio's placeholder for the app's own package name


def app_package(manifest: pathlib.Path) -> str:
    """``<name>-<version>`` of the package.json beside app.config.yaml (the name without its
    scope, ``@org/app`` -> ``app``), as aio names the app's package: ``unnamed-app`` and
    ``0.1.0`` stand in for what it lacks, as they do for aio."""
    path = manifest.resolve().parent / PACKAGE_JSON
    document: Any = {}
    if path.is_file():
        try:
            document = json.loads(read_text(path, ManifestError))
        except ManifestError as exc:
            raise ManifestError(f"{manifest}: {exc}") from None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ManifestError(f"{manifest}: {PACKAGE_JSON} beside it cannot be read for the "
                                f"app's name: {exc}") from None
    found = {}
    for key, default in (("name", "unnamed-app"), ("version", "0.1.0")):
        value = document.get(key) if isinstance(document, dict) else None
        if value is not None and not isinstance(value, str):
            raise ManifestError(f"{manifest}: {PACKAGE_JSON} beside it: '{key}' must be a "
                                f"string, not {type_name(value)}")
        found[key] = (value or "").rsplit("/", 1)[-1].strip() or default
    return f"{found['name']}-{found['version']}"


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)
