"""What every tool fault shares: the run's settings, a scenario and its observation, and the
throw-away project the ``deploy.py`` command line runs on.

A run generates its own secret; it goes into the projects' ``.env`` files only
and is masked in anything the table prints.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import deploy
from tools.deploy.client import REQUEST_SECONDS
from tools.local import server as web_server

QUICK_IDLE_TIMEOUT = 0.3  # seconds: the handler timeout under --quick
QUICK_REQUEST_DEADLINE = 1.0  # seconds: deploy.py's request deadline under --quick
SECRET_VARIABLE = "BENCH_TOOL_FAULTS_SECRET"  # noqa: S105 - a variable name, not a secret
# Process variables that would change what the CLI sees; each run starts without them.
HOST_VARIABLES = ("AIO_RUNTIME_AUTH", "AIO_RUNTIME_APIHOST", "AIO_RUNTIME_NAMESPACE",
                  SECRET_VARIABLE)

MANIFEST = """\
packages:
  demo:
    actions:
      hello:
        function: hello.py
        runtime: python:3.11
"""
SECRET_INPUTS = f"""\
        inputs:
          API_SECRET: ${SECRET_VARIABLE}
          COPY: ${SECRET_VARIABLE}
"""


@dataclass(frozen=True)
class Settings:
    """What one run uses: the web server's handler timeout, and the secret its projects hold."""

    idle_timeout: float = web_server.IDLE_TIMEOUT_SECONDS
    request_deadline: float = REQUEST_SECONDS  # deploy.py's deadline for one request
    secret: str = field(default_factory=lambda: f"bench-{secrets.token_hex(16)}", repr=False)

    @classmethod
    def for_run(cls, quick: bool) -> Settings:
        if quick:
            return cls(QUICK_IDLE_TIMEOUT, QUICK_REQUEST_DEADLINE)
        return cls(web_server.IDLE_TIMEOUT_SECONDS, REQUEST_SECONDS)


@dataclass(frozen=True)
class Observation:
    outcome: str  # compared with the scenario's expected outcome
    seconds: float  # how long the fault took to be answered
    facts: dict[str, Any] = field(default_factory=dict)  # measured figures, for --json


@dataclass(frozen=True)
class Scenario:
    """One fault, the outcome the tools document for it, and how to throw it."""

    name: str
    expected: str
    run: Callable[[Settings], Observation] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    observation: Observation
    settings: Settings

    @property
    def as_documented(self) -> bool:
        return self.observation.outcome == self.scenario.expected


@dataclass(frozen=True)
class CliRun:
    status: int
    out: str = field(repr=False)
    err: str = field(repr=False)
    seconds: float


class Project:
    """A throw-away project folder: manifest.yaml, an empty .env, hello.py, no ~/.wskprops."""

    def __init__(self, root: pathlib.Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self.manifest = root / "manifest.yaml"
        self.env_file = root / ".env"
        self.manifest.write_text(MANIFEST, encoding="utf-8")
        self.env_file.write_text("", encoding="utf-8")
        (root / "hello.py").write_text("def main(params):\n    return {}\n", encoding="utf-8")
        (root / "no-wskprops").write_text("", encoding="utf-8")

    def with_secret(self) -> Project:
        """A secret-named input and a plain one (COPY) both set to the run's secret."""
        self.manifest.write_text(MANIFEST + SECRET_INPUTS, encoding="utf-8")
        self.env_file.write_text(f"{SECRET_VARIABLE}={self.settings.secret}\n",
                                 encoding="utf-8")
        return self

    def cli(self, *words: str, exported: dict[str, str] | None = None) -> CliRun:
        """``deploy.main`` on this project, its output captured, in a process environment
        without the host's OpenWhisk settings (but the ``exported`` variables)."""
        argv = [*words, "--manifest", str(self.manifest)]
        if words[0] != "new":  # the one command that reads no .env
            argv += ["--env-file", str(self.env_file)]
        if words[0] == "build":
            argv += ["--out", str(self.root / "build")]
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, {"WSK_CONFIG_FILE": str(self.root / "no-wskprops")}):
            for name in HOST_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(exported or {})
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                started = time.perf_counter()
                status = deploy.main(argv)
                seconds = time.perf_counter() - started
        return CliRun(status, out.getvalue(), err.getvalue(), seconds)

    def shown(self, text: str) -> str:
        """``text`` fit for the table: the temporary folder shortened, the secret masked."""
        return text.replace(str(self.root), "<tmp>").replace(self.settings.secret, "<hidden>")


@contextlib.contextmanager
def project(settings: Settings) -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="tool-faults-") as folder:
        yield Project(pathlib.Path(folder).resolve(), settings)


def exit_outcome(done: CliRun, status: int, message: str, where: Project) -> str:
    """``exit 2: <message>`` when the command failed as documented; else what it said."""
    if done.status == status and message in done.err and "Traceback" not in done.err:
        return f"exit {status}: {message}"
    said = done.err.strip().splitlines()[-1] if done.err.strip() else "nothing on stderr"
    return f"exit {done.status}: {where.shown(said)[:120]}"


def verdicts(*checks: tuple[bool, str, str]) -> str:
    """``good`` for each check that held, ``bad`` for each that did not, joined."""
    return "; ".join(good if ok else bad for ok, good, bad in checks)


@contextlib.contextmanager
def importable(root: pathlib.Path, prefix: str) -> Iterator[str]:
    """A module name of its own for code the scenario writes under ``root`` (``prefix_…``),
    with ``root`` on sys.path for the block; the module and the path entry are gone after."""
    module = f"{prefix}_{secrets.token_hex(4)}"
    saved_path = list(sys.path)
    sys.path.insert(0, str(root))
    try:
        yield module
    finally:
        sys.path[:] = saved_path
        for name in [name for name in sys.modules if name.split(".")[0] == module]:
            del sys.modules[name]
