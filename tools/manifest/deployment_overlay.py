"""A deployment file laid over the manifest's document: each bound package, action and trigger
copied (the manifest's dicts may be shared through YAML aliases) with the file's inputs and
annotations replacing or added, and each bound key noted as the deployment file's, so a bad
value is reported where it is written."""

from __future__ import annotations

import pathlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from tools.manifest.reader import TYPED_INPUT_KEYS, FieldReader

BOUND_KEYS = ("inputs", "annotations")  # what a deployment file binds

if TYPE_CHECKING:
    from tools.manifest.deployment import Bound, Deployment


class Overlay:
    """The manifest's sections copied where this file binds something, each bound key noted in
    ``reader.declared`` as the deployment file's."""

    def __init__(self, reader: FieldReader, faults: FieldReader, deployment: Deployment,
                 sections: list[tuple[str, Any]]) -> None:
        self.reader = reader
        self.faults = faults
        self.deployment = deployment
        self.file = deployment.path.resolve()
        self.copies: set[int] = set()  # ids of the dicts made here (kept alive in sections)
        self.sections = [(where, dict(packages) if isinstance(packages, dict) else packages)
                         for where, packages in sections]
        for where, _ in sections:  # the manifest declares the rest, so messages say which
            reader.declared.setdefault(where.split(".")[0], reader.path.resolve())

    def apply(self) -> list[tuple[str, Any]]:
        places = self.package_places()
        own: dict[str, set[str]] = {}  # a package's own inputs win over the project's
        for name, where in places:
            own.setdefault(name, set()).update(_keys(self.body(name, where).get("inputs")))
        for name, where in places:
            self.bind(where, self.body(name, where), self.deployment.inputs, skip=own[name])
        for name, package in self.deployment.packages.items():
            mine = [where for known, where in places if known == name]
            if not mine:
                known = ", ".join(dict.fromkeys(known for known, _ in places)) or "none"
                raise self.faults.fault(package.own.where,
                                        f"package {name!r} is not in the manifest "
                                        f"{self.reader.path} (its packages: {known})")
            for where in mine:
                self.bind(where, self.body(name, where), package.own)
            for action, bound in package.actions.items():
                self.bind_action(name, mine, action, bound)
        triggers = self.trigger_places(places)
        for package in self.deployment.packages.values():
            for trigger, bound in package.triggers.items():
                if trigger not in triggers:
                    raise self.faults.fault(bound.where, f"trigger {trigger!r} is not in the "
                                                         f"manifest {self.reader.path} (its "
                                                         f"triggers: "
                                                         f"{', '.join(triggers) or 'none'})")
                name, where = triggers[trigger]
                self.bind(f"{where}.triggers.{trigger}",
                          self.entity(self.body(name, where), "triggers", trigger), bound)
        return self.sections

    def package_places(self) -> list[tuple[str, str]]:
        """``(package, its path)`` for each place that declares a package as a mapping."""
        return [(name, f"{where}.{name}") for where, packages in self.sections
                if isinstance(packages, dict)
                for name, body in packages.items() if isinstance(body, dict)]

    def trigger_places(self, places: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Each trigger's package and its path: wskdeploy binds triggers by name alone."""
        found: dict[str, tuple[str, str]] = {}
        for name, where in places:
            triggers = self.body(name, where).get("triggers")
            if isinstance(triggers, dict):
                for trigger in triggers:
                    found.setdefault(trigger, (name, where))
        return found

    def bind_action(self, package: str, places: list[str], action: str, bound: Bound) -> None:
        for where in places:
            actions = self.body(package, where).get("actions")
            if isinstance(actions, dict) and action in actions:
                if isinstance(actions[action], dict):  # else the reader refuses the manifest's
                    self.bind(f"{where}.actions.{action}",
                              self.entity(self.body(package, where), "actions", action), bound)
                return
        sequences = [where for where in places
                     if action in (self.body(package, where).get("sequences") or {})]
        if sequences:
            raise self.faults.fault(bound.where, f"{package}/{action} is a sequence in the "
                                                 "manifest: a deployment file binds inputs "
                                                 "and annotations to actions and triggers")
        known = ", ".join(name for where in places
                          for name in (self.body(package, where).get("actions") or {})) or "none"
        raise self.faults.fault(bound.where, f"action {action!r} is not in package "
                                             f"{package!r} of the manifest {self.reader.path} "
                                             f"(its actions: {known})")

    def body(self, package: str, where: str) -> dict[str, Any]:
        """The package's body in the (copied) section that ``where`` is in."""
        section = where[: -len(package) - 1]
        packages = next(packages for at, packages in self.sections if at == section)
        return self.own(packages, package)

    def entity(self, body: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
        return self.own(self.own(body, kind), name)

    def own(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        """``parent[key]`` replaced by a copy made here, once: the manifest's own dict may be
        shared with another entity through a YAML alias."""
        value = parent[key]
        if id(value) not in self.copies:
            value = parent[key] = dict(value)
            self.copies.add(id(value))
        return value

    def bind(self, where: str, target: dict[str, Any], bound: Bound, *,
             skip: Collection[str] = ()) -> None:
        for key in BOUND_KEYS:
            values: Mapping[str, Any] = getattr(bound, key)
            current = target.get(key)
            if not values or not (current is None or isinstance(current, dict)):
                continue  # nothing to bind, or the manifest's own value is wrong: the reader says
            merged = dict(current or {})
            for name, value in values.items():
                if name in skip:
                    continue
                at = f"{where}.{key}.{name}"
                if key == "inputs" and _typed(merged.get(name)) and not _typed(value):
                    # A plain value binds the manifest's typed input: its type and init stay.
                    merged[name] = {**{k: v for k, v in merged[name].items() if k != "default"},
                                    "value": value}
                    self.declare(f"{at}.default", None)
                    self.declare(f"{at}.value", self.file)
                else:
                    merged[name] = value
                    self.declare(at, self.file)
            target[key] = merged

    def declare(self, where: str, file: pathlib.Path | None) -> None:
        declared = self.reader.declared
        for key in [key for key in declared
                    if key == where or key.startswith((f"{where}.", f"{where}["))]:
            del declared[key]
        if file is not None:
            declared[where] = file


def _keys(value: Any) -> list[str]:
    return list(value) if isinstance(value, dict) else []


def _typed(value: Any) -> bool:
    """The reader's typed input form: ``{type, value, default, …}``."""
    return (isinstance(value, dict) and bool(value) and TYPED_INPUT_KEYS.issuperset(value)
            and bool({"type", "value", "default"} & value.keys()))
