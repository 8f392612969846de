"""A package's entities as one place of the manifest declares them (wskdeploy's spec).

Actions and sequences belong to their package; triggers, rules and dependencies
(package bindings) are declared in a package but live in the namespace, so they
are collected project-wide. Names are resolved here (a bare action name means the
declaring package); whether they exist is checked once every package is read
(see references.py).
"""

from __future__ import annotations

import glob
import os
import pathlib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.manifest.actions import read_action
from tools.manifest.apis import read_routes
from tools.manifest.app_config import APP_PACKAGE
from tools.manifest.model import Action, ActionSequence, Binding, Rule, Trigger
from tools.manifest.reader import ENTITY_NAME, FieldReader
from tools.manifest.values import type_name

PACKAGE_KEYS = ("actions", "sequences", "triggers", "rules", "dependencies", "inputs",
                "annotations", "apis", "public")
SEQUENCE_KEYS = ("actions", "web", "web-export", "annotations")
TRIGGER_KEYS = ("inputs", "annotations", "feed", "source")
RULE_KEYS = ("trigger", "action")
DEPENDENCY_KEYS = ("location", "inputs", "annotations")
# What the peers accept and nothing deploys (wskdeploy's parsers/yamlparser.go; aio's
# schema): accepted, kept for render, otherwise ignored. Any other key is still refused.
DESCRIPTIVE_KEYS = ("description", "version", "license", "namespace", "credential",
                    "apiHost", "apigwAccessToken", "repositories", "feeds", "rule")
GITHUB = ("a GitHub dependency needs the network: wskdeploy downloads it and deploys its "
          "manifest as a package of its own; deploy that project separately, or give a "
          "shared package to bind as /namespace/package")
APIS = ("is not supported here: routes are declared under a package (packages.<name>.apis), "
        "as wskdeploy and App Builder read them")


@dataclass
class Draft:
    """A package as one place declares it; App Builder may declare one package in several."""

    name: str
    where: str
    actions: list[tuple[Action, str]] = field(default_factory=list)
    sequences: list[tuple[ActionSequence, str]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    public: bool = False
    descriptive: dict[str, Any] = field(default_factory=dict)


def descriptive(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in DESCRIPTIVE_KEYS if key in body}


class EntityReader(FieldReader):
    """Reads packages into :class:`Draft` s and the namespace's triggers, rules and bindings,
    each with the manifest path that declares it."""

    def __init__(self, path: pathlib.Path, env: Mapping[str, str]) -> None:
        super().__init__(path, env)
        self.triggers: list[tuple[Trigger, str]] = []
        self.rules: list[tuple[Rule, str]] = []
        self.bindings: list[tuple[Binding, str]] = []
        self.route_places: dict[tuple[str, str, str], str] = {}  # API routes read so far
        self.project_inputs: dict[str, Any] = {}  # wskdeploy's project.inputs
        self.app_package = ""  # what App Builder's __APP_PACKAGE__ stands for
        self.managed_file: str | None = None  # whisk-managed's file, when not the manifest's

    def refuse_apis(self, body: dict[str, Any], where: str) -> None:
        if isinstance(body, dict) and "apis" in body:
            raise self.fault(f"{where}.apis" if where else "apis", APIS)

    def named(self, name: str, where: str) -> str:
        """An entity name, ``$VAR``/``${VAR}`` substituted as wskdeploy substitutes package,
        sequence, trigger and rule names (an unset one is listed with the others)."""
        if name == APP_PACKAGE and self.app_package:
            return self.app_package
        unset_before = len(self.unset)
        resolved = self.resolve(name, where)
        if len(self.unset) > unset_before:  # listed at the end; meanwhile a name that reads
            return re.sub(r"\W", "", name) or "unset"
        return self.entity_name(resolved, where)

    def package(self, name: str, value: Any, where: str) -> Draft:
        name = self.named(name, where)
        body = self.mapping(value, where, (*PACKAGE_KEYS, *DESCRIPTIVE_KEYS))
        draft = Draft(name, where, public=self.flag(body.get("public"), f"{where}.public"),
                      descriptive=descriptive(body))
        for key, read, into in (("actions", self.action, draft.actions),
                                ("sequences", self.sequence, draft.sequences),
                                ("triggers", self.trigger, self.triggers),
                                ("rules", self.rule, self.rules),
                                ("dependencies", self.binding, self.bindings)):
            for entity, spec in self.mapping(body.get(key), f"{where}.{key}").items():
                at = f"{where}.{key}.{entity}"
                entity = self.named(entity, at)
                into.append((read(name, entity, spec, at), at))  # type: ignore[operator]
        draft.inputs = self.inputs(body.get("inputs"), f"{where}.inputs")
        draft.annotations = self.annotations(body.get("annotations"), f"{where}.annotations")
        read_routes(self, draft, body, where, self.route_places)
        return draft

    def action(self, package: str, name: str, value: Any, where: str) -> Action:
        return read_action(self, package, name, value, where)

    def includes(self, value: Any, where: str) -> tuple[tuple[pathlib.Path, str], ...]:
        """App Builder's ``include: [[glob, folder in the zip]]``: each file the glob matches
        (relative to the declaring file) goes into the folder under its own name."""
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fault(where, f"must be a list of [glob, folder in the zip] pairs, not "
                                    f"{type_name(value)}")
        base = self.declaring_file(where).parent
        found: dict[str, pathlib.Path] = {}
        for index, entry in enumerate(value):
            at = f"{where}[{index}]"
            if not (isinstance(entry, list) and 1 <= len(entry) <= 2
                    and all(isinstance(part, str) and part.strip() for part in entry)):
                if self.web_final and isinstance(entry, list):  # wskdeploy skips such entries
                    self.warn(f"{self.place(at)}: skipped: not [source] or [source, folder "
                              "in the zip], as wskdeploy skips it")
                    continue
                raise self.fault(at, "must be [glob] or [glob, folder in the zip]")
            folder = posixpath.normpath(entry[1].replace("\\", "/")) if len(entry) == 2 else "."
            if (folder.startswith("/") or folder == ".." or folder.startswith("../")
                    or not folder.isprintable()):
                raise self.fault(f"{at}[1]", f"{entry[1]!r} is not a folder inside the zip")
            pattern = os.path.join(glob.escape(str(base)), entry[0])
            files: list[tuple[pathlib.Path, str]] = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                path = pathlib.Path(os.path.normpath(match))
                if path.is_file():
                    files.append((path, path.name))
                elif path.is_dir():  # a folder goes in whole, under its own name
                    files += [(file, posixpath.join(path.name, file.relative_to(path).as_posix()))
                              for file in sorted(path.rglob("*")) if file.is_file()
                              and not any(part.startswith(".")
                                          for part in file.relative_to(path).parts)]
            if not files:
                relative = "the project folder" if base == self.root else self.display(base)
                raise self.fault(f"{at}[0]", f"{entry[0]!r} matches no file or folder "
                                             f"(relative to {relative})")
            for file, name in files:
                inside = posixpath.normpath(posixpath.join(folder, name))
                if found.get(inside, file) != file:
                    raise self.fault(at, f"{inside} in the zip would be both "
                                         f"{self.display(found[inside])} and {self.display(file)}")
                found[inside] = file
        return tuple(sorted((file, inside) for inside, file in found.items()))

    def sequence(self, package: str, name: str, value: Any, where: str) -> ActionSequence:
        body = self.mapping(value, where, (*SEQUENCE_KEYS, *DESCRIPTIVE_KEYS))
        at = f"{where}.actions"
        listed = body.get("actions")
        if isinstance(listed, str):
            listed = listed.split(",")
        if not isinstance(listed, list) or not listed:
            raise self.fault(at, "is required: the actions in order, \"a, b, package/c\"")
        components = []
        for item in listed:
            if not isinstance(item, str) or not item.strip():
                raise self.fault(at, f"{item!r} is not an action name")
            components.append(self.reference(item, at, package))
        return ActionSequence(package=package, name=name, components=tuple(components),
                        web=self.web(self.synonym(body, where, "web", "web-export")),
                        web_given="web" in body or "web-export" in body,
                        web_final=self.web_final,
                        annotations=self.web_annotations(body.get("annotations"),
                                                         f"{where}.annotations"),
                        descriptive=descriptive(body))

    def trigger(self, package: str, name: str, value: Any, where: str) -> Trigger:
        """With a feed, the inputs are the feed's (cron …); without, the trigger's parameters."""
        body = self.mapping(value, where, (*TRIGGER_KEYS, *DESCRIPTIVE_KEYS))
        inputs = self.inputs(body.get("inputs"), f"{where}.inputs")
        annotations = self.annotations(body.get("annotations"), f"{where}.annotations")
        at, feed = self.synonym(body, where, "feed", "source")  # source: wskdeploy's old word
        if feed is None:
            return Trigger(name=name, inputs=inputs, annotations=annotations,
                           descriptive=descriptive(body))
        feed = self.resolve(self.text(feed, at, "a feed action"), at)
        if not (self.fully_qualified(feed) or _relative_action(feed)):
            raise self.fault(at, f"{feed!r} is not a feed action: /namespace/[package/]action, "
                                 "e.g. /whisk.system/alarms/alarm, or binding/action for a "
                                 "dependency of the project")
        return Trigger(name=name, annotations=annotations, feed=feed, feed_inputs=inputs,
                       descriptive=descriptive(body))

    def rule(self, package: str, name: str, value: Any, where: str) -> Rule:
        body = self.mapping(value, where, (*RULE_KEYS, *DESCRIPTIVE_KEYS))
        trigger = self.resolve(self.text(body.get("trigger"), f"{where}.trigger",
                                         "a trigger of the project"), f"{where}.trigger")
        action = self.resolve(self.text(body.get("action"), f"{where}.action",
                                        "the action or sequence the trigger fires"),
                              f"{where}.action")
        return Rule(name=name, trigger=trigger,
                    action=self.reference(action, f"{where}.action", package),
                    descriptive=descriptive(body))

    def binding(self, package: str, name: str, value: Any, where: str) -> Binding:
        body = self.mapping(value, where, (*DEPENDENCY_KEYS, *DESCRIPTIVE_KEYS))
        location = self.resolve(self.text(body.get("location"), f"{where}.location",
                                          "the shared package, /namespace/package"),
                                f"{where}.location")
        if "github" in location.split("/")[0].lower() or "github.com" in location.lower():
            raise self.fault(f"{where}.location", f"{location!r}: {GITHUB}")
        parts = location[1:].split("/") if location.startswith("/") else []
        if len(parts) != 2 or not all(ENTITY_NAME.fullmatch(part) for part in parts):
            raise self.fault(f"{where}.location",
                             f"{location!r}: only bindings to packages are supported: give "
                             "the shared package as /namespace/package, e.g. "
                             "/whisk.system/alarms")
        return Binding(name=name, location=location,
                       inputs=self.inputs(body.get("inputs"), f"{where}.inputs"),
                       annotations=self.annotations(body.get("annotations"),
                                                    f"{where}.annotations"),
                       descriptive=descriptive(body))

    def reference(self, text: str, where: str, package: str) -> str:
        """``name`` (the declaring package's), ``package/name``, or ``/ns/[package/]name``."""
        text = text.strip()
        if text.startswith("/"):
            if not self.fully_qualified(text):
                raise self.fault(where, f"{text!r} is not a fully qualified action name: "
                                        "/namespace/[package/]action")
            return text
        parts = text.split("/")
        if len(parts) == 1:
            parts = [package, *parts]
        if len(parts) != 2 or not all(ENTITY_NAME.fullmatch(part) for part in parts):
            raise self.fault(where, f"{text!r} is not an action name: name, package/name or "
                                    "/namespace/[package/]name")
        return "/".join(parts)

    @staticmethod
    def fully_qualified(name: str) -> bool:
        parts = name[1:].split("/") if name.startswith("/") else []
        return len(parts) in (2, 3) and all(ENTITY_NAME.fullmatch(part) for part in parts)


def _relative_action(name: str) -> bool:
    """``binding/action`` (or ``action``): a feed named relative to the project's namespace,
    which wskdeploy invokes as ``/<namespace>/binding/action``."""
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(ENTITY_NAME.fullmatch(part) for part in parts)
