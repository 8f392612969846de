"""The project's files are not trusted: ``$include`` that leaves the project or names no regular
file, and ``deploy.py new`` asked for a keyword or through a link that leads out."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

from bench.tool_faults.common import Observation, Project, Scenario, Settings, exit_outcome, project

APP_CONFIG = """\
application:
  runtimeManifest:
    packages:
      demo:
        actions:
          hello:
            function: hello.py
            runtime: python:3.11
            inputs:
              $include: {include}
"""
OUTSIDE = "STOLEN: a file of the machine, outside the project\n"
LEADS_OUT_MESSAGE = "leads out of the project folder"
NOT_REGULAR_MESSAGE = "cannot read: not a regular file (a folder, a FIFO or a device)"
KEYWORD_MESSAGE = "action name 'class' makes the module class, a Python keyword"
WRITES_OUT_MESSAGE = "a link on the way leads out"
NOTHING_WRITTEN = "nothing written"
DASHED_ENTRY = ("quota-alert in the manifest, actions/quota_alert/ written; the identity as "
                "init inputs, final, 128 MB")


def _files(root: pathlib.Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink()}


def _app_config(p: Project, include: str) -> None:
    """``p`` with an app.config.yaml (instead of its manifest.yaml) whose one action's inputs
    are the ``$include`` of ``include``."""
    p.manifest = p.root / "app.config.yaml"
    p.manifest.write_text(APP_CONFIG.format(include=include), encoding="utf-8")


def include_out(kind: str) -> Callable[[Settings], Observation]:
    """``$include`` of a YAML file beside the project: by ``..``, or through a link."""
    def run(settings: Settings) -> Observation:
        with project(settings) as p:
            inner, outside = _beside(p)
            (outside / "secret.yaml").write_text(OUTSIDE, encoding="utf-8")
            if kind == "link":
                (inner.root / "inputs.yaml").symlink_to(outside / "secret.yaml")
                _app_config(inner, "inputs.yaml")
            else:
                _app_config(inner, "../outside/secret.yaml")
            done = inner.cli("render")
            outcome = exit_outcome(done, 2, LEADS_OUT_MESSAGE, p)
            if "STOLEN" in done.out + done.err:
                outcome += "; THE OUTSIDE FILE WAS PRINTED"
        return Observation(outcome, done.seconds, {"exit_status": done.status})
    return run


def _beside(p: Project) -> tuple[Project, pathlib.Path]:
    """A project in ``p``'s folder, and a folder beside it that is not the project's."""
    (p.root / "project").mkdir()
    (p.root / "outside").mkdir()
    return Project(p.root / "project", p.settings), p.root / "outside"


def include_fifo(settings: Settings) -> Observation:
    """A FIFO would block the read forever: refused before any byte is read."""
    with project(settings) as p:
        os.mkfifo(p.root / "inputs.yaml")
        _app_config(p, "inputs.yaml")
        done = p.cli("render")
        outcome = exit_outcome(done, 2, NOT_REGULAR_MESSAGE, p)
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def manifest_device(settings: Settings) -> Observation:
    """``manifest.yaml`` a link to ``/dev/zero``: endless, refused as no regular file."""
    with project(settings) as p:
        p.manifest.unlink()
        p.manifest.symlink_to("/dev/zero")
        done = p.cli("render")
        outcome = exit_outcome(done, 2, NOT_REGULAR_MESSAGE, p)
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def new_keyword(settings: Settings) -> Observation:
    with project(settings) as p:
        before = _files(p.root)
        done = p.cli("new", "class")
        outcome = exit_outcome(done, 2, KEYWORD_MESSAGE, p)
        outcome += f"; {NOTHING_WRITTEN}" if _files(p.root) == before else "; FILES WRITTEN"
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def new_through_a_link(settings: Settings) -> Observation:
    """``tests/`` a link to a folder outside the project: no test file lands there."""
    with project(settings) as p:
        inner, outside = _beside(p)
        (inner.root / "tests").symlink_to(outside, target_is_directory=True)
        before = _files(p.root)
        done = inner.cli("new", "report")
        outcome = exit_outcome(done, 2, WRITES_OUT_MESSAGE, p)
        outcome += f"; {NOTHING_WRITTEN}" if _files(p.root) == before else "; FILES WRITTEN"
    return Observation(outcome, done.seconds, {"exit_status": done.status})


def new_dashed_name(settings: Settings) -> Observation:
    with project(settings) as p:
        done = p.cli("new", "quota-alert")
        text = p.manifest.read_text(encoding="utf-8")
        entry = text[text.find("quota-alert:"):]
        checks = (done.status == 0, (p.root / "actions/quota_alert/action.py").is_file(),
                  "function: actions/quota_alert" in entry,
                  "{value: $OAUTHS2S_CLIENT_SECRET, init: true}" in entry,
                  "final: true" in entry, "memory: 128" in entry)
        outcome = (f"exit 0: {DASHED_ENTRY}" if all(checks) else
                   f"exit {done.status}: {p.shown(done.err.strip())[-120:] or 'the entry differs'}")
    return Observation(outcome, done.seconds, {"exit_status": done.status})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("render: app.config.yaml $include ../outside/secret.yaml",
             f"exit 2: {LEADS_OUT_MESSAGE}", include_out("dot-dot")),
    Scenario("render: $include inputs.yaml, a link to a file outside the project",
             f"exit 2: {LEADS_OUT_MESSAGE}", include_out("link")),
    Scenario("render: $include inputs.yaml, a FIFO", f"exit 2: {NOT_REGULAR_MESSAGE}",
             include_fifo),
    Scenario("render: manifest.yaml a link to /dev/zero", f"exit 2: {NOT_REGULAR_MESSAGE}",
             manifest_device),
    Scenario("new class (a keyword)", f"exit 2: {KEYWORD_MESSAGE}; {NOTHING_WRITTEN}",
             new_keyword),
    Scenario("new report, tests/ a link to a folder outside the project",
             f"exit 2: {WRITES_OUT_MESSAGE}; {NOTHING_WRITTEN}", new_through_a_link),
    Scenario("new quota-alert (a name with a dash)", f"exit 0: {DASHED_ENTRY}", new_dashed_name),
)
