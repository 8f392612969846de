"""The resolved manifest: what a project deploys, as deploy and the local runner use it.

Packages hold actions and sequences; triggers, rules and package bindings live in
the namespace, as OpenWhisk keeps them. Names inside the project are
``package/name``; a name outside it is fully qualified (``/whisk.system/alarms/alarm``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from tools.runtimes import ActionCode

# OpenWhisk's ranges on a stock deployment: name -> (low, high, unit).
LIMIT_RANGES: dict[str, tuple[int, int, str]] = {
    "timeout": (100, 300_000, "ms"),
    "memory": (128, 512, "MB"),
    "logs": (0, 10, "MB"),
    "concurrency": (1, 500, "activations"),
}
DEFAULT_TIMEOUT_MS = 60_000  # an action's time limit where the manifest sets none
DEFAULT_LIMITS = {"timeout": DEFAULT_TIMEOUT_MS, "memory": 256, "logs": 10}  # stock OpenWhisk's


@dataclass(frozen=True)
class Limits:
    timeout: int | None = None  # ms
    memory: int | None = None  # MB
    logs: int | None = None  # MB
    concurrency: int | None = None
    # Where the manifest sets each limit, for a message about it; not part of the value.
    paths: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_api(self) -> dict[str, int]:
        """Only the limits the manifest sets, so the server keeps its defaults for the rest."""
        return {name: getattr(self, name) for name in LIMIT_RANGES
                if getattr(self, name) is not None}

    def sent(self) -> dict[str, int]:
        """What every action write sends: each limit the manifest sets, and the stock default
        of the rest (concurrency only when set), so that removing a limit from the manifest
        brings the action back to the default, as App Builder does."""
        return {**DEFAULT_LIMITS, **self.to_api()}

    def outside(self, ranges: dict[str, tuple[int, int, str]]) -> list[str]:
        """``path: must be …`` for each limit set outside ``ranges`` (a server's, or stock)."""
        found = []
        for name, value in self.to_api().items():
            low, high, unit = ranges.get(name, LIMIT_RANGES[name])
            if not low <= value <= high:
                found.append(f"{self.paths.get(name, name)}: must be an integer from {low} to "
                             f"{high} ({unit}), not {value}")
        return found


@dataclass(frozen=True)
class Route:
    """An API gateway route (``apis:``) to the action or sequence that holds it."""

    api: str  # the API's name: the title of its base path's API
    basepath: str  # "/club"
    relpath: str  # "/books/{isbn}"
    method: str  # "GET", upper case
    response: str  # the web-action extension the gateway calls: json, http, text, html, svg
    action: str  # "package/name"
    # The action had no web key and this route made it a web action (deploy warns, as
    # wskdeploy does).
    made_web: bool = field(default=False, compare=False)

    @property
    def path(self) -> str:
        return self.basepath.rstrip("/") + self.relpath


class _WebEntity:
    """What actions and sequences share: a name in a package, web flags and annotations."""

    package: str
    name: str
    web: str  # "yes" | "no" | "raw"
    annotations: dict[str, Any]
    routes: tuple[Route, ...]  # the API gateway routes that call it
    web_given: bool  # the manifest has a web key (else its annotations say it all)
    web_final: bool  # web: yes adds final, as wskdeploy does (App Builder does not)

    @property
    def qualified_name(self) -> str:
        return f"{self.package}/{self.name}"

    def web_annotations(self) -> dict[str, Any]:
        """What ``wsk --web`` sets; ``final`` keeps callers from overriding the inputs."""
        if self.web == "no":
            return {}
        found: dict[str, Any] = {"web-export": True, "raw-http": self.web == "raw"}
        return {**found, "final": True} if self.web_final else found

    def all_annotations(self) -> dict[str, Any]:
        """What is deployed: ``web:`` decides ``web-export`` and ``raw-http`` over the same
        annotations (as wskdeploy's TestComposeActionsForWebAndWebExport has it); a ``final``
        written among the annotations stays. Without a web key, the annotations as written."""
        if not self.web_given:
            return dict(self.annotations)
        own = {key: value for key, value in self.annotations.items()
               if key not in ("web-export", "raw-http")}
        return {**self.web_annotations(), **own}

    def stale_annotations(self) -> list[str]:
        """Web annotations an earlier deploy may have left, to delete when web is off."""
        if self.web != "no":
            return []
        return [key for key in ("web-export", "raw-http", "final") if key not in self.annotations]


@dataclass(frozen=True)
class Action(_WebEntity):
    package: str
    name: str
    code: ActionCode  # what ``function:`` names, in its runtime's form
    kind: str
    main: str
    web: str  # "yes" | "no" | "raw"
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    init_inputs: frozenset[str] = frozenset()  # inputs handed to the container at /init, as env
    includes: tuple[tuple[pathlib.Path, str], ...] = ()  # (a data file, its path in the zip)
    routes: tuple[Route, ...] = ()
    web_given: bool = True
    web_final: bool = field(default=True, compare=False)
    default_of: str = ""  # the family whose default kind ``kind`` stands for ("nodejs")
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ActionSequence(_WebEntity):
    """An action of kind ``sequence``: each component's result is the next one's input."""

    package: str
    name: str
    components: tuple[str, ...]  # "package/action" in the project, or "/ns/[package/]action"
    web: str = "no"
    annotations: dict[str, Any] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    web_given: bool = True
    web_final: bool = field(default=True, compare=False)
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


WebEntity = TypeVar("WebEntity", Action, ActionSequence)


@dataclass(frozen=True)
class Trigger:
    """A trigger; with a ``feed``, its inputs go to the feed action, not onto the trigger."""

    name: str
    inputs: dict[str, Any] = field(default_factory=dict)  # the trigger's parameters
    annotations: dict[str, Any] = field(default_factory=dict)
    feed: str | None = None  # /whisk.system/alarms/alarm, or binding/action in the namespace
    feed_inputs: dict[str, Any] = field(default_factory=dict)  # cron, trigger_payload …
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Rule:
    """Fires ``action`` (an action or sequence) when ``trigger`` fires; deployed active."""

    name: str
    trigger: str  # a trigger of the project
    action: str  # "package/name" in the project, or "/ns/[package/]action"
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Binding:
    """A package binding (wskdeploy's ``dependencies``): a shared package under a local name."""

    name: str
    location: str  # "/whisk.system/alarms"
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Package:
    name: str
    actions: tuple[Action, ...]
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    sequences: tuple[ActionSequence, ...] = ()
    public: bool = False  # published: other namespaces may bind it
    # Keys the peers accept and nothing deploys (description, version …), for render.
    descriptive: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Manifest:
    path: pathlib.Path
    packages: tuple[Package, ...]
    triggers: tuple[Trigger, ...] = ()
    rules: tuple[Rule, ...] = ()
    bindings: tuple[Binding, ...] = ()
    project: str | None = None  # project.name, or the App Builder app's name
    files: tuple[pathlib.Path, ...] = ()  # every file read for it: includes, package.json
    warnings: tuple[str, ...] = ()  # what the user should know; nothing that stops a deploy
    managed_file: str | None = None  # whisk-managed's file, if not the manifest's name (aio)

    @property
    def root(self) -> pathlib.Path:
        """The project folder: function paths are relative to it, and lib/ is taken from it."""
        return self.path.parent

    def actions(self) -> list[Action]:
        return [action for package in self.packages for action in package.actions]

    def sequences(self) -> list[ActionSequence]:
        return [sequence for package in self.packages for sequence in package.sequences]

    def routes(self) -> list[Route]:
        """Every API gateway route, its action's package by package."""
        return [route for entity in (*self.actions(), *self.sequences())
                for route in entity.routes]

    def with_default_kinds(self, defaults: Mapping[str, str]) -> Manifest:
        """The manifest with ``defaults`` (family -> a server's default kind) for the actions
        that name a family alone (``nodejs``, ``nodejs:default``, or none at all)."""
        def resolved(entity: WebEntity) -> WebEntity:
            kind = defaults.get(entity.default_of) if isinstance(entity, Action) else None
            return replace(entity, kind=kind) if kind and kind != entity.kind else entity

        return self.mapped(resolved)

    def mapped(self, change: Callable[[WebEntity], WebEntity]) -> Manifest:
        """The manifest with ``change`` applied to every action and sequence."""
        return replace(self, packages=tuple(
            replace(package, actions=tuple(change(a) for a in package.actions),
                    sequences=tuple(change(s) for s in package.sequences))
            for package in self.packages))

    def package(self, name: str) -> Package:
        return next(p for p in self.packages if p.name == name)

    def parameters(self, action: Action) -> dict[str, Any]:
        """What the action receives at run time: package inputs overlaid by its own."""
        return {**self.package(action.package).inputs, **action.inputs}
