"""The manifest side under hostile files: YAML alias bombs, oversized manifests and ``.env``
files, ``render --output`` over links, and secrets under plain keys."""

from __future__ import annotations

import os
import pathlib
import stat
from collections.abc import Callable

from bench.tool_faults.common import (
    MANIFEST,
    Observation,
    Project,
    Scenario,
    Settings,
    exit_outcome,
    project,
    verdicts,
)
from tools.manifest.yaml_file import MAX_EXPANDED_NODES
from tools.textfile import MAX_TEXT_FILE_BYTES

BOMB_LEVELS, BOMB_ALIASES = 9, 10  # 10^9 values once expanded
TWO_MIB = 2 * 1024 * 1024
ALIAS_MESSAGE = f"aliases expand to more than {MAX_EXPANDED_NODES} values"
SELF_ALIAS_MESSAGE = "an alias refers to a value that contains it"
TOO_LARGE_MESSAGE = f"larger than {MAX_TEXT_FILE_BYTES} bytes; not read"
# What the checks of the rendered files say when they pass (and the Expected column shows).
REPLACED_LINK = "F a regular 0600 file with the manifest"
TARGET_KEPT = "the link's target untouched"
NEW_FILE = "F a new 0600 file with the manifest"
OTHER_NAME_KEPT = "the other link keeps the old text"
NO_PARTIAL = "no partial file left"
MASKED_BY_VALUE = "masked under the non-secret key COPY"
NOT_SHOWN = "the value nowhere in the output"


def billion_laughs(levels: int = BOMB_LEVELS, aliases: int = BOMB_ALIASES) -> str:
    """YAML whose last anchor expands to ``aliases ** levels`` values."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * aliases)}]"
              for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# The bomb, then a valid manifest whose one input is the bomb's last alias.
BOMB_MANIFEST = billion_laughs() + MANIFEST + f"        inputs:\n          LOL: *a{BOMB_LEVELS}\n"


def alias_bomb(*command: str) -> Callable[[Settings], Observation]:
    def run(settings: Settings) -> Observation:
        with project(settings) as p:
            p.manifest.write_text(BOMB_MANIFEST, encoding="utf-8")
            size = p.manifest.stat().st_size
            done = p.cli(*command)
            outcome = exit_outcome(done, 2, ALIAS_MESSAGE, p)
        return Observation(outcome, done.seconds,
                           {"bytes": size, "bomb_bytes": len(billion_laughs().encode()),
                            "exit_status": done.status,
                            "expanded_values": BOMB_ALIASES ** BOMB_LEVELS})
    return run


def self_alias(settings: Settings) -> Observation:
    with project(settings) as p:
        p.manifest.write_text("x-loop: &loop [*loop]\n" + MANIFEST, encoding="utf-8")
        size = p.manifest.stat().st_size
        done = p.cli("render")
        outcome = exit_outcome(done, 2, SELF_ALIAS_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def _fill(path: pathlib.Path, line: str, size: int) -> int:
    """``path`` made of ``line`` repeated to at least ``size`` bytes; its size."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(line * (size // len(line) + 1))
    return path.stat().st_size


def huge_manifest(settings: Settings) -> Observation:
    with project(settings) as p:
        size = _fill(p.manifest, "# padding: a comment line of a manifest far too large\n",
                     TWO_MIB)
        done = p.cli("render")
        outcome = exit_outcome(done, 2, TOO_LARGE_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def huge_env(settings: Settings) -> Observation:
    with project(settings) as p:
        size = _fill(p.env_file, "PAD=" + "x" * 95 + "\n", TWO_MIB)
        done = p.cli("render")
        outcome = exit_outcome(done, 2, TOO_LARGE_MESSAGE, p)
    return Observation(outcome, done.seconds, {"bytes": size, "exit_status": done.status})


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _partials(p: Project) -> list[str]:
    return [entry.name for entry in p.root.iterdir() if entry.name.endswith(".partial")]


def render_over_symlink(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        target = p.root / "target.txt"
        target.write_text("keep me", encoding="utf-8")
        target.chmod(0o644)
        output = p.root / "rendered.yaml"
        output.symlink_to(target)
        done = p.cli("render", "--show-secrets", "--output", str(output))
        regular = output.is_file() and not output.is_symlink()
        written = regular and settings.secret in output.read_text(encoding="utf-8")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            (written and _mode(output) == 0o600, REPLACED_LINK,
             "F still a link" if output.is_symlink() else f"F mode {_mode(output):04o}"
             if written else "F without the manifest"),
            (target.read_text(encoding="utf-8") == "keep me" and _mode(target) == 0o644,
             TARGET_KEPT, "the link's TARGET WAS CHANGED"),
            (not _partials(p), NO_PARTIAL, "a partial file left"))
        facts = {"exit_status": done.status, "output_is_link": output.is_symlink(),
                 "output_mode": f"{_mode(output):04o}", "target_mode": f"{_mode(target):04o}"}
    return Observation(outcome, done.seconds, facts)


def render_over_hard_link(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        output = p.root / "rendered.yaml"
        output.write_text("old", encoding="utf-8")
        output.chmod(0o644)
        old_inode = output.stat().st_ino
        other = p.root / "other-name.yaml"
        os.link(output, other)
        done = p.cli("render", "--show-secrets", "--output", str(output))
        new = output.stat().st_ino != old_inode and not output.is_symlink()
        written = new and settings.secret in output.read_text(encoding="utf-8")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            (written and _mode(output) == 0o600, NEW_FILE,
             "F the same file, written through" if not new else
             f"F mode {_mode(output):04o}" if written else "F without the manifest"),
            (other.read_text(encoding="utf-8") == "old" and _mode(other) == 0o644,
             OTHER_NAME_KEPT, "the other link's text or mode CHANGED"),
            (not _partials(p), NO_PARTIAL, "a partial file left"))
        facts = {"exit_status": done.status, "new_inode": new,
                 "output_mode": f"{_mode(output):04o}", "other_link_mode": f"{_mode(other):04o}"}
    return Observation(outcome, done.seconds, facts)


def render_masks_by_value(settings: Settings) -> Observation:
    with project(settings) as p:
        p.with_secret()
        done = p.cli("render")
        outcome = verdicts(
            (done.status == 0, "exit 0", f"exit {done.status}"),
            ("COPY: <hidden>" in done.out, MASKED_BY_VALUE, "COPY not masked"),
            (settings.secret not in done.out + done.err, NOT_SHOWN,
             "THE SECRET'S VALUE WAS IN THE OUTPUT (not shown here)"))
    return Observation(outcome, done.seconds, {"exit_status": done.status})


_BOMB = (f"YAML billion laughs, {len(billion_laughs().encode())} bytes "
         f"({BOMB_LEVELS} levels x {BOMB_ALIASES} aliases)")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(f"{_BOMB}: render", f"exit 2: {ALIAS_MESSAGE}", alias_bomb("render")),
    Scenario(f"{_BOMB}: build", f"exit 2: {ALIAS_MESSAGE}", alias_bomb("build")),
    Scenario(f"{_BOMB}: deploy --dry-run", f"exit 2: {ALIAS_MESSAGE}",
             alias_bomb("deploy", "--dry-run")),
    Scenario("YAML alias inside the value it names: render", f"exit 2: {SELF_ALIAS_MESSAGE}",
             self_alias),
    Scenario("manifest.yaml of 2 MiB: render", f"exit 2: {TOO_LARGE_MESSAGE}", huge_manifest),
    Scenario(".env of 2 MiB: render", f"exit 2: {TOO_LARGE_MESSAGE}", huge_env),
    Scenario("render --show-secrets --output F, F a symlink to another file",
             "; ".join(("exit 0", REPLACED_LINK, TARGET_KEPT, NO_PARTIAL)),
             render_over_symlink),
    Scenario("render --show-secrets --output F, F 0644 with a second hard link",
             "; ".join(("exit 0", NEW_FILE, OTHER_NAME_KEPT, NO_PARTIAL)),
             render_over_hard_link),
    Scenario("render, a secret's value also under a plain key",
             "; ".join(("exit 0", MASKED_BY_VALUE, NOT_SHOWN)), render_masks_by_value),
)
