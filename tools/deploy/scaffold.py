"""``deploy.py new NAME``: a new action, its local entry point, its test and its manifest entry.

Like ``aio app add action``. NAME is written as OpenWhisk and App Builder names
are (``quota-alert``); its module is the same with ``_`` for ``-``
(``actions/quota_alert/``). The files come from ``templates/``; the manifest
entry, the one the repository's own action has, is inserted as text at the
place the YAML parser reports, so the manifest keeps its comments and layout.
Everything is checked before the first file is written (no file lands outside
the project, whatever links ``actions/`` or ``tests/`` are), and the edited
manifest must still load, or nothing stays.
"""

from __future__ import annotations

import keyword
import os
import pathlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import yaml

from tools.errors import ManifestError, UsageError
from tools.manifest import Manifest
from tools.project import ProjectSource

TEMPLATES = pathlib.Path(__file__).with_name("templates")
ACTIONS_FOLDER = "actions"
TESTS_FOLDER = "tests"
DEFAULT_RUNTIME = "python:3.11"
# Where each layout keeps its packages, as load_manifest accepts them.
PACKAGE_PATHS = (("packages",), ("project", "packages"), ("runtimeManifest", "packages"),
                 ("application", "runtimeManifest", "packages"))
ACTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# The project's own top-level packages; any other package or module at its root counts too.
PROJECT_PACKAGES = frozenset({"actions", "bench", "lib", "tests", "tools"})
# Soft keywords of every Python an action may run on (``type`` is one from 3.12).
SOFT_KEYWORDS = frozenset({*keyword.softkwlist, "type"})


@dataclass(frozen=True)
class NewAction:
    """What ``new`` writes: file path -> text, and the manifest's new text."""

    name: str  # as the manifest and OpenWhisk have it: quota-alert
    module: str  # as Python has it: quota_alert
    package: str
    files: Mapping[pathlib.Path, str]
    manifest_path: pathlib.Path
    manifest_text: str


def module_name(name: str, root: pathlib.Path) -> str:
    """The module of the action ``name``: ``-`` becomes ``_``; UsageError for a name that
    would not import (a keyword) or that an own package of the project already has."""
    if not ACTION_NAME.fullmatch(name):
        raise UsageError(f"action name {name!r} must start with a letter and hold only letters, "
                         "digits, - and _ (its module is the name with _ for -)")
    module = name.replace("-", "_")
    if keyword.iskeyword(module) or module in SOFT_KEYWORDS:
        raise UsageError(f"action name {name!r} makes the module {module}, a Python keyword: "
                         f"'from actions.{module}.action import main' would not import")
    if module in PROJECT_PACKAGES or module in _top_level_names(root):
        raise UsageError(f"action name {name!r} makes the module {module}, the name of the "
                         f"project's own {module} at {root}: choose another name")
    return module


def plan_new_action(manifest_path: pathlib.Path, name: str, package: str | None) -> NewAction:
    """Checks the request against the project and prepares every file; writes nothing."""
    manifest = _shape(manifest_path)
    root = manifest.root
    module = module_name(name, root)
    package = package or _only_package(manifest)
    folder = root / ACTIONS_FOLDER / module
    test_file = root / TESTS_FOLDER / f"test_{module}_action.py"
    for taken in (folder, root / ACTIONS_FOLDER / f"{module}.py", test_file):
        if os.path.lexists(taken):
            raise UsageError(f"{taken} already exists")
    if any(action.qualified_name == f"{package}/{name}" for action in manifest.actions()):
        raise UsageError(f"{manifest_path}: package {package} already has an action {name}")
    words = {"__NAME__": name, "__MODULE__": module, "__PACKAGE__": package,
             "__FUNCTION__": f"{ACTIONS_FOLDER}/{module}",
             "__RUNTIME__": next((a.kind for a in manifest.actions()), DEFAULT_RUNTIME),
             "__MANIFEST__": manifest.path.relative_to(root).as_posix()}
    files = {
        folder / "__init__.py": _template("action_init.py.tmpl", words),
        folder / "action.py": _template("action.py.tmpl", words),
        folder / "__main__.py": _template("action_main.py.tmpl", words),
        test_file: _template("test_action.py.tmpl", words),
    }
    if not os.path.lexists(root / ACTIONS_FOLDER / "__init__.py"):
        files[root / ACTIONS_FOLDER / "__init__.py"] = ""
    for path in files:
        _inside(path, root)
    text = manifest_path.read_text(encoding="utf-8")
    entry = _template("manifest_entry.yaml.tmpl", words)
    return NewAction(name, module, package, files, manifest.path,
                     insert_action(text, package, entry, str(manifest_path)))


def _inside(path: pathlib.Path, root: pathlib.Path) -> None:
    """UsageError unless ``path`` stays in the project once every link on its way is followed
    (``tests/`` a link to another folder would take the file there)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise UsageError(f"{path} cannot be resolved: {exc}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise UsageError(f"{path.relative_to(root)} would be written to {resolved}, outside the "
                         f"project {root}: a link on the way leads out; nothing was written")


def _top_level_names(root: pathlib.Path) -> set[str]:
    """The packages and modules at the project's root (``deploy`` for deploy.py)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return set()
    return {entry.stem if entry.suffix == ".py" else entry.name for entry in entries
            if entry.suffix == ".py" or (entry / "__init__.py").is_file()}


def write_new_action(new: NewAction) -> list[pathlib.Path]:
    """Writes the files and the manifest; on any failure removes what it wrote and restores
    the manifest. The paths written, manifest last."""
    old_text = new.manifest_path.read_text(encoding="utf-8")
    written: list[pathlib.Path] = []
    try:
        for path, text in new.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:  # never over an existing file
                handle.write(text)
            written.append(path)
        new.manifest_path.write_text(new.manifest_text, encoding="utf-8")
        _shape(new.manifest_path)  # the entry must load as written
    except BaseException:
        new.manifest_path.write_text(old_text, encoding="utf-8")
        for path in reversed(written):
            path.unlink()
        for folder in {path.parent for path in written}:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return [*written, new.manifest_path]


def insert_action(text: str, package: str, entry: str, where: str) -> str:
    """``text`` with ``entry`` (a YAML block naming one action) added to ``package``'s actions,
    the package created when it is absent."""
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{where}: not valid YAML: {exc}") from None
    packages, path = _packages_node(document, where)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    package_node = _value(packages, package)
    if package_node is None:
        at, indent = _end_line(packages), _indent(packages)
        block = f"{package}:\n  actions:\n" + _indented(entry, 4)
    else:
        actions = _value(package_node, "actions")
        if actions is None:
            _require_block(package_node, f"{path}.{package}", where)
            at, indent = _end_line(package_node), _indent(package_node)
            block = "actions:\n" + _indented(entry, 2)
        else:
            _require_block(actions, f"{path}.{package}.actions", where)
            at, indent, block = _end_line(actions), _indent(actions), entry
    lines[at:at] = [_indented(block, indent)]
    return "".join(lines)


def _packages_node(document: yaml.Node | None, where: str) -> tuple[yaml.MappingNode, str]:
    for keys in PACKAGE_PATHS:
        node: yaml.Node | None = document
        for key in keys:
            node = _value(node, key)
        if isinstance(node, yaml.MappingNode) and node.value:
            _require_block(node, ".".join(keys), where)
            return node, ".".join(keys)
    raise ManifestError(f"{where}: no packages found (under packages, project.packages or "
                        "runtimeManifest.packages)")


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for name, value in node.value
                 if isinstance(name, yaml.ScalarNode) and name.value == key), None)


def _require_block(node: yaml.Node, path: str, where: str) -> None:
    if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
        raise ManifestError(f"{where}: {path} is not a block mapping with entries; add the "
                            "action there by hand")


def _end_line(node: yaml.Node) -> int:
    """The index of the line after the node's last value (comments after it stay after)."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    mark = node.end_mark
    return mark.line if mark.column == 0 else mark.line + 1  # a block scalar ends past its line


def _indent(mapping: yaml.MappingNode) -> int:
    return mapping.value[0][0].start_mark.column


def _indented(block: str, spaces: int) -> str:
    return "".join(" " * spaces + line if line.strip() else line
                   for line in block.splitlines(keepends=True))


def _shape(path: pathlib.Path) -> Manifest:
    """The manifest as it loads, with .env where present; an unset $VAR does not matter here."""
    return ProjectSource(path, path.parent / ".env").load(blank_unset=lambda _: True)


def _only_package(manifest: Manifest) -> str:
    names = [package.name for package in manifest.packages]
    if len(names) == 1:
        return names[0]
    raise UsageError(f"{manifest.path} has several packages ({', '.join(names)}); "
                     "choose one with --package")


def _template(name: str, words: Mapping[str, str]) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for word, value in words.items():
        text = text.replace(word, value)
    return text


def created_lines(new: NewAction, written: list[pathlib.Path]) -> Iterator[str]:
    """What ``new`` tells the user: the files, then the next commands."""
    root = new.manifest_path.parent
    yield f"Created action {new.package}/{new.name}:"
    yield from (f"  {path.relative_to(root).as_posix()}" for path in written)
    yield "Next: run it against an emulated Adobe IMS, run its test, build its zip:"
    yield f"  python -m actions.{new.module} --sandbox"
    yield f"  python -m pytest {TESTS_FOLDER}/test_{new.module}_action.py"
    yield "  python deploy.py build"
