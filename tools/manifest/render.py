"""The resolved manifest printed back as YAML, secrets masked unless asked for.

The output is itself a wskdeploy manifest (``packages:``, or ``project:`` when the
project has a name), with every name, path and ``$VAR`` resolved: sequences'
components and rules' actions as ``package/name``, paths relative to the project
folder, init inputs as ``{value: …, init: true}``. Triggers, rules and
dependencies live in the namespace, so they are shown under the first package.
"""

from __future__ import annotations

import glob
import pathlib
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from lib.redact import redact
from tools.manifest.model import Action, ActionSequence, Manifest, Route
from tools.runtimes.as_is import DockerImage, InlineCode

Shown = Callable[[Mapping[str, Any]], dict[str, Any]]


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret-named keys hidden, at any depth.

    A true/false is no secret: ``require-adobe-auth: false`` stays readable.
    """
    hidden = redact(dict(values))
    return {key: values[key] if isinstance(values[key], bool) else value
            for key, value in hidden.items()}


def render(manifest: Manifest, *, show_secrets: bool = False) -> str:
    """The resolved manifest as YAML in wskdeploy's layout."""
    shown: Shown = dict if show_secrets else masked
    packages: dict[str, Any] = {}
    for package in manifest.packages:
        entry: dict[str, Any] = dict(package.descriptive)
        if package.public:
            entry["public"] = True
        if package.inputs:
            entry["inputs"] = shown(package.inputs)
        if package.annotations:
            entry["annotations"] = shown(package.annotations)
        entry["actions"] = {action.name: _render_action(action, manifest.root, shown)
                            for action in package.actions}
        if package.sequences:
            entry["sequences"] = {sequence.name: _render_sequence(sequence, shown)
                                  for sequence in package.sequences}
        routes = [route for entity in (*package.actions, *package.sequences)
                  for route in entity.routes]
        if routes:
            entry["apis"] = _render_routes(routes)
        if not packages:
            entry.update(_render_namespace(manifest, shown))
        packages[package.name] = entry
    document: dict[str, Any] = {"packages": packages}
    if manifest.project is not None:
        document = {"project": {"name": manifest.project, "packages": packages}}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True,
                          default_flow_style=False)


def _render_action(action: Action, root: pathlib.Path, shown: Shown) -> dict[str, Any]:
    entry: dict[str, Any] = {**_code(action, root), "runtime": action.kind}
    if action.main:
        entry["main"] = action.main
    if action.web_given:
        entry["web"] = action.web
    if action.inputs:
        inputs = shown(action.inputs)
        entry["inputs"] = {name: {"value": value, "init": True}
                           if name in action.init_inputs else value
                           for name, value in inputs.items()}
    if action.annotations:
        entry["annotations"] = shown(action.annotations)
    if action.limits.to_api():
        entry["limits"] = action.limits.to_api()
    entry.update(action.descriptive)
    if action.includes:
        # App Builder's [glob, folder] form, which gives back exactly these files.
        entry["include"] = [[glob.escape(_relative(file, root)),
                             f"{posixpath.dirname(inside)}/" if "/" in inside else "./"]
                            for file, inside in action.includes]
    return entry


def _code(action: Action, root: pathlib.Path) -> dict[str, Any]:
    """Where the code is: a function path, a docker image (with its code), or inline code."""
    code = action.code
    entry: dict[str, Any] = {}
    if isinstance(code, DockerImage):
        entry["docker"] = code.image
    if isinstance(code, InlineCode):
        entry["code"] = code.text
    elif code.path is not None:
        entry["function"] = _relative(code.path, root)
    return entry


def _render_routes(routes: list[Route]) -> dict[str, Any]:
    """``API: {base path: {rel path: {action: {method, response}}}}``, as the peers write it."""
    apis: dict[str, Any] = {}
    for route in routes:
        targets = apis.setdefault(route.api, {}).setdefault(route.basepath, {}).setdefault(
            route.relpath, {})
        targets[route.action.partition("/")[2]] = {"method": route.method,
                                                   "response": route.response}
    return apis


def _render_sequence(sequence: ActionSequence, shown: Shown) -> dict[str, Any]:
    entry: dict[str, Any] = {"actions": ", ".join(sequence.components)}
    if sequence.web_given:
        entry["web"] = sequence.web
    if sequence.annotations:
        entry["annotations"] = shown(sequence.annotations)
    entry.update(sequence.descriptive)
    return entry


def _render_namespace(manifest: Manifest, shown: Shown) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    if manifest.triggers:
        triggers: dict[str, Any] = {}
        for trigger in manifest.triggers:
            entry: dict[str, Any] = {}
            if trigger.feed is not None:
                entry["feed"] = trigger.feed
            inputs = trigger.feed_inputs if trigger.feed is not None else trigger.inputs
            if inputs:
                entry["inputs"] = shown(inputs)
            if trigger.annotations:
                entry["annotations"] = shown(trigger.annotations)
            triggers[trigger.name] = {**entry, **trigger.descriptive}
        entries["triggers"] = triggers
    if manifest.rules:
        entries["rules"] = {rule.name: {"trigger": rule.trigger, "action": rule.action,
                                        **rule.descriptive}
                            for rule in manifest.rules}
    if manifest.bindings:
        bindings: dict[str, Any] = {}
        for binding in manifest.bindings:
            entry = {"location": binding.location}
            if binding.inputs:
                entry["inputs"] = shown(binding.inputs)
            if binding.annotations:
                entry["annotations"] = shown(binding.annotations)
            bindings[binding.name] = {**entry, **binding.descriptive}
        entries["dependencies"] = bindings
    return entries


def _relative(path: pathlib.Path, root: pathlib.Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
