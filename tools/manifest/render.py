"""The resolved manifest printed back as YAML, secrets masked unless asked for."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from lib._redact import redact
from tools.manifest.model import Action, Manifest


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

