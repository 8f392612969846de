"""YAML as the manifest is read: safe types only, no duplicate keys, no alias bombs.

PyYAML shares the object an alias points at, so a few hundred bytes of nested
aliases ("billion laughs") load at once, but every walk over the result (the
resolver, a render, the JSON of a deploy request) expands them to billions of
values. The composed document is measured with every alias expanded, in time
linear in its size, before anything is built from it.
"""

from __future__ import annotations

import pathlib
from collections.abc import Hashable
from typing import Any

import yaml

from tools.errors import ManifestError
from tools.textfile import read_text

MAX_EXPANDED_NODES = 100_000  # a real manifest has hundreds


class AliasBomb(yaml.YAMLError):
    """Aliases that expand past :data:`MAX_EXPANDED_NODES`, or refer to themselves."""


def load_yaml_file(path: pathlib.Path, *, missing: str = "no such file") -> Any:
    """The YAML document in ``path``, read size-capped; ManifestError naming the file for one
    that is missing (``missing`` says what to do), unreadable, not YAML or nested too deeply."""
    try:
        text = read_text(path, ManifestError)
    except FileNotFoundError:
        raise ManifestError(f"{path}: {missing}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{path}: nested too deeply") from None


def load_yaml(text: str) -> Any:
    """The document's value; yaml.YAMLError for bad YAML, a duplicate key or an alias bomb."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """How many nodes the document holds with every alias expanded; AliasBomb past the cap."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:
                raise AliasBomb(f"aliases expand to more than {MAX_EXPANDED_NODES} values")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise AliasBomb("an alias refers to a value that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
