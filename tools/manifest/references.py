"""The project put together: packages merged across the places that declare them, every
name unique where OpenWhisk needs it to be, and every reference pointing at something.

A sequence's components and a rule's action must be actions or sequences of the
project, or sit in one of its package bindings; a fully qualified name
(``/ns/…``) is outside the project and is not checked. A rule's trigger must be
a trigger of the project. All of this is found before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tools.errors import ManifestError
from tools.manifest.entities import Draft, EntityReader
from tools.manifest.model import Action, ActionSequence, Binding, Package, Rule, Trigger

Named = TypeVar("Named", Trigger, Rule, Binding)


def assemble(reader: EntityReader, drafts: Iterable[Draft]) -> tuple[
        tuple[Package, ...], tuple[Trigger, ...], tuple[Rule, ...], tuple[Binding, ...]]:
    packages = _merge(reader, drafts)
    bindings = _unique(reader, reader.bindings, "binding")
    triggers = _unique(reader, reader.triggers, "trigger")
    rules = _unique(reader, reader.rules, "rule")
    for binding, where in reader.bindings:
        if binding.name in packages:
            raise reader.fault(where, f"a binding is a package of the namespace: it cannot share "
                                      f"the name of the package at "
                                      f"{reader.place(packages[binding.name].where)}")
    runnable = {entity.qualified_name for draft in packages.values()
                for entity, _ in (*draft.actions, *draft.sequences)}
    _check_sequences(reader, packages, runnable, set(bindings))
    for rule, where in reader.rules:
        # aio refuses a rule whose trigger or action is not in the manifest; wskdeploy sends
        # it, for the server to find (one already in the namespace, or fully qualified).
        if rule.trigger not in triggers:
            known = ", ".join(triggers) or "none"
            message = f"unknown trigger {rule.trigger!r} (triggers of the project: {known})"
            if not reader.web_final:
                raise reader.fault(f"{where}.trigger", message)
            reader.warn(f"{reader.place(where)}.trigger: {message}; it must exist on the server")
        try:
            _check_target(reader, rule.action, f"{where}.action", runnable, set(bindings))
        except ManifestError:
            if not reader.web_final:
                raise
            reader.warn(f"{reader.place(where)}.action: {rule.action} is not an action of the "
                        "manifest; it must exist on the server")
    built = tuple(Package(name=draft.name,
                          actions=tuple(action for action, _ in draft.actions),
                          inputs=draft.inputs, annotations=draft.annotations,
                          sequences=tuple(sequence for sequence, _ in draft.sequences),
                          public=draft.public, descriptive=draft.descriptive)
                  for draft in packages.values())
    return built, tuple(triggers.values()), tuple(rules.values()), tuple(bindings.values())


def _merge(reader: EntityReader, drafts: Iterable[Draft]) -> dict[str, Draft]:
    """One package per name; the same action or sequence name twice is an error naming both."""
    merged: dict[str, Draft] = {}
    for draft in drafts:
        into = merged.setdefault(draft.name, Draft(draft.name, draft.where))
        names = {entity.name: (_described(entity), where)
                 for entity, where in (*into.actions, *into.sequences)}
        for entity, where in (*draft.actions, *draft.sequences):
            if entity.name in names:
                described, other = names[entity.name]
                raise reader.fault(where, f"package {draft.name!r} already has {described} named "
                                          f"{entity.name!r}, at {reader.place(other)}")
            names[entity.name] = (_described(entity), where)
        into.actions += draft.actions
        into.sequences += draft.sequences
        into.public = into.public or draft.public
        into.descriptive.update(draft.descriptive)
        for key in ("inputs", "annotations"):
            _merge_values(reader, getattr(into, key), getattr(draft, key), f"{draft.where}.{key}",
                          f"{into.where}.{key}")
    return merged


def _merge_values(reader: EntityReader, into: dict[str, Any], more: dict[str, Any],
                  where: str, first: str) -> None:
    for key, value in more.items():
        if key in into and into[key] != value:
            raise reader.fault(f"{where}.{key}", f"differs from the value the same package "
                                                 f"has at {reader.place(f'{first}.{key}')}")
        into[key] = value


def _described(entity: Action | ActionSequence) -> str:
    return "a sequence" if isinstance(entity, ActionSequence) else "an action"


def _unique(reader: EntityReader, entities: list[tuple[Named, str]],
            entity_type: str) -> dict[str, Named]:
    """Namespace-wide entities by name: one name twice, in any packages, is an error."""
    found: dict[str, Named] = {}
    places: dict[str, str] = {}
    for entity, where in entities:
        if entity.name in found:
            raise reader.fault(where, f"{entity_type} {entity.name!r} is also defined at "
                                      f"{reader.place(places[entity.name])}; {entity_type}s "
                                      "live in the namespace, so each name can be used once")
        found[entity.name], places[entity.name] = entity, where
    return found


def _check_target(reader: EntityReader, name: str, where: str, runnable: set[str],
                  bindings: set[str]) -> None:
    if name.startswith("/") or name in runnable or name.split("/")[0] in bindings:
        return
    raise reader.fault(where, f"unknown action {name!r}: name an action or sequence of the "
                              "project (name, package/name), one in a dependency "
                              "(binding/name), or give a fully qualified /namespace/"
                              "[package/]name")


def _check_sequences(reader: EntityReader, packages: dict[str, Draft],
                     runnable: set[str], bindings: set[str]) -> None:
    sequences: dict[str, tuple[ActionSequence, str]] = {
        sequence.qualified_name: (sequence, where)
        for draft in packages.values() for sequence, where in draft.sequences}
    for sequence, where in sequences.values():
        for component in sequence.components:  # outside the manifest: the server's to find
            if not (component.startswith("/") or component in runnable
                    or component.split("/")[0] in bindings):
                reader.warn(f"{reader.place(where)}: {component} is not an action of the "
                            "manifest; it must exist on the server when the sequence is sent")
    # OpenWhisk refuses a sequence that contains itself, however deep.
    done: set[str] = set()
    for start in sequences:
        if start in done:
            continue
        path = [start]
        stack = [iter(sequences[start][0].components)]
        while stack:
            component = next(stack[-1], None)
            if component is None:
                done.add(path.pop())
                stack.pop()
            elif component in path:
                cycle = " -> ".join([*path[path.index(component):], component])
                raise reader.fault(f"{sequences[start][1]}.actions",
                                   f"a sequence cannot contain itself: {cycle}")
            elif component in sequences and component not in done:
                path.append(component)
                stack.append(iter(sequences[component][0].components))
