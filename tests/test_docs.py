"""Every command the docs mark to run is run, so README.md and docs/*.md cannot drift from the code.

A fenced block whose info string is ``sh run`` runs; ``sh run exit=N`` must exit with N, and
``sh run interrupt=S`` gets Ctrl-C (SIGINT to its process group) after S seconds and must then
exit 0 (or N: ``interrupt=3 exit=130``). A plain ``sh`` block is shown, not run: it needs real
Adobe credentials, a real OpenWhisk, or the network.

Each file's blocks run in order, as one reader would type them, each block as one bash script
(``set -e``: the first failing line fails it), in a fresh copy of the repository whose ``.venv``
is this one, with ``python`` this virtualenv's. The environment holds nothing of the host's but
PATH: HOME is empty (no ``~/.wskprops``), ``AIO_RUNTIME_*`` point at the OpenWhisk controller
stand-in on loopback, and ``.env`` holds the sandbox's credentials. An action the stand-in is
asked to invoke runs for real, ``python -m tools.local PKG/ACTION --sandbox`` in the copy, against
the Adobe emulator: its result and log lines become the activation's. Nothing leaves loopback.

A failure names the file and line of the block and of the command that failed.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.openwhisk_standin import OpenWhiskStandIn, Run
from tools.local.client import SANDBOX_INPUTS
from tools.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_ORG_ID,
    SANDBOX_SCOPES,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```+|~~~+)\s*([^`]*)$")  # an info string holds no backtick
BASH = shutil.which("bash") or "/bin/bash"
BLOCK_TIMEOUT = 120  # seconds; a block that hangs fails instead of stalling the suite
SCRIPT_HEAD = ('set -eo pipefail\n'
               'trap \'echo "docs-test: line $((LINENO - 2)) of the block exited $?" >&2\' ERR\n')
NOT_COPIED = shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", ".pytest_cache",
                                    ".ruff_cache", ".hypothesis", ".env")


@dataclass(frozen=True)
class Block:
    """One fenced block: its file, the line of its opening fence, its info string and text."""

    path: pathlib.Path
    line: int
    info: str
    text: str

    @property
    def words(self) -> list[str]:
        return self.info.split()

    @property
    def runs(self) -> bool:
        return self.words[:2] == ["sh", "run"]

    def option(self, name: str) -> int | None:
        for word in self.words[2:]:
            key, _, value = word.partition("=")
            if key == name:
                return int(value)
        return None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: pathlib.Path) -> list[Block]:
    """The fenced blocks of a markdown file, in order."""
    found, opening, info, body = [], None, "", []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(line.strip())
        if opening is None:
            if fence:
                opening, info, body = number, fence.group(2).strip(), []
        elif fence and not fence.group(2):
            found.append(Block(path, opening, info, "\n".join(body) + "\n"))
            opening = None
        else:
            body.append(line)
    assert opening is None, f"{path.relative_to(ROOT)}:{opening}: a fence never closed"
    return found


def run_blocks(path: pathlib.Path) -> list[Block]:
    return [block for block in blocks(path) if block.runs]


class RunsTheAction:
    """What the stand-in answers for an invocation of one of the project's actions: the action
    itself, run locally against the Adobe emulator in the project's copy."""

    def __init__(self, project: pathlib.Path, env: dict[str, str], name: str) -> None:
        self.project, self.env, self.name = project, env, name

    def __call__(self, args: dict) -> Run:
        # The sandbox supplies the identity; every other argument goes in as a parameter.
        params = {key: value for key, value in args.items() if key not in SANDBOX_INPUTS}
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.project,
                                         delete=False) as file:
            json.dump(params, file)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tools.local", self.name, "--sandbox",
                 "--params-file", file.name],
                cwd=self.project, env=self.env, capture_output=True, text=True, timeout=60,
                check=False)
        finally:
            os.unlink(file.name)
        result = json.loads(done.stdout) if done.stdout.strip() else {}
        status = "success" if done.returncode == 0 else "application error"
        return Run(result, logs=done.stderr.splitlines(), status=status)


class Invocations(dict):
    """The stand-in's handlers: every action deployed answers by running itself."""

    def __init__(self, project: pathlib.Path, env: dict[str, str]) -> None:
        super().__init__()
        self.project, self.env = project, env

    def get(self, name: str, default: object = None) -> RunsTheAction:
        return RunsTheAction(self.project, self.env, name)


class Reader:
    """One reader of one file: a fresh copy of the repository, a fresh stand-in."""

    def __init__(self, workspace: pathlib.Path, standin: OpenWhiskStandIn) -> None:
        self.project = workspace / "repo"
        shutil.copytree(ROOT, self.project, ignore=NOT_COPIED, symlinks=True)
        (self.project / ".venv").symlink_to(ROOT / ".venv")
        (self.project / ".env").write_text(
            f"OAUTHS2S_CLIENT_ID={SANDBOX_CLIENT_ID}\n"
            f"OAUTHS2S_CLIENT_SECRET={SANDBOX_CLIENT_SECRET}\n"
            f"OAUTHS2S_CECREDENTIALS_METASCOPES={','.join(SANDBOX_SCOPES)}\n"
            f"IMS_ORG_ID={SANDBOX_ORG_ID}\n", encoding="utf-8")
        (self.project / ".env").chmod(0o600)
        home = workspace / "home"
        home.mkdir()
        self.env = {"PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
                    "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(workspace),
                    "PYTHONDONTWRITEBYTECODE": "1", **standin.env()}
        self.standin = standin

        standin.store.handlers = Invocations(self.project, self.env)

    def run(self, block: Block) -> None:
        interrupt, expected = block.option("interrupt"), block.option("exit")
        if expected is None:
            expected = 0
        process = subprocess.Popen(
            [BASH, "-c", SCRIPT_HEAD + block.text], cwd=self.project, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=interrupt or BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGINT if interrupt else signal.SIGKILL)
            try:
                out, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, err = process.communicate()
                pytest.fail(f"{block.where}: the block did not end after Ctrl-C\n{out}\n{err}")
            if not interrupt:
                pytest.fail(f"{block.where}: the block ran over {BLOCK_TIMEOUT} s\n{out}\n{err}")
        status = process.returncode
        if status == -signal.SIGINT:
            status = 130
        if status != expected:
            failed = re.search(r"docs-test: line (\d+) of the block", err)
            where = block.where
            if failed:
                number = int(failed.group(1))
                command = block.text.splitlines()[number - 1].strip()
                where = f"{block.path.relative_to(ROOT)}:{block.line + number} ({command})"
            pytest.fail(f"{where}: exit {status}, expected {expected}\n"
                        f"--- stdout\n{out}\n--- stderr\n{err}")


@pytest.fixture
def reader(tmp_path: pathlib.Path) -> Iterator[Reader]:
    with OpenWhiskStandIn(namespace="guest") as standin:  # as a local --serve names it
        yield Reader(tmp_path, standin)


@pytest.mark.parametrize("path", [path for path in DOCS if run_blocks(path)],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_every_marked_block_runs(path: pathlib.Path, reader: Reader) -> None:
    for block in run_blocks(path):
        reader.run(block)


def test_the_docs_run_something() -> None:
    """The README's first-day path and each page's commands are marked to run, not only shown."""
    marked = {path.name: len(run_blocks(path)) for path in DOCS}
    for name in ("README.md", "deploying.md", "after-deploy.md", "local.md", "projects.md"):
        assert marked.get(name), f"{name} has no ```sh run block"


# --- links ------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: pathlib.Path) -> set[str]:
    """GitHub's anchors for the headings of a markdown file."""
    found, inside = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
        elif not inside and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("path", [*DOCS, ROOT / "bench" / "README.md"],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_links_lead_somewhere(path: pathlib.Path) -> None:
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        goal = (path.parent / file).resolve() if file else path
        assert goal.exists(), f"{path.relative_to(ROOT)}: {target} leads nowhere"
        if anchor and goal.suffix == ".md":
            assert anchor in anchors(goal), f"{path.relative_to(ROOT)}: no heading for {target}"


def test_each_page_is_linked_from_the_readme_and_back() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in DOCS[1:]:
        assert f"](docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
        assert "](../README.md" in page.read_text(encoding="utf-8"), \
            f"docs/{page.name} does not link back to the README"


# --- the two set-up commands ------------------------------------------------------------------

def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Set-up\n", 1)[1].split("\n## ", 1)[0]
    [block] = [block for block in blocks(ROOT / "README.md")
               if block.info == "sh" and block.text.strip() in section]
    return [line for line in block.text.splitlines() if line.strip()]


def test_the_setup_is_two_commands_and_ci_runs_them() -> None:
    """The first installs what CI installs and runs the action; the second is CI's test command.
    (Neither is run here: the first needs the package index, the second is this suite.)"""
    install, tests = setup_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("python3 -m venv .venv", "-r requirements-dev.txt"):
        assert step in install
        assert step in ci
    assert install.endswith("&& .venv/bin/python -m actions.generic --sandbox")
    assert tests == ".venv/bin/python -m pytest"
    assert re.search(r"^CI=true \.venv/bin/python -m pytest$", ci, re.MULTILINE)


def test_the_setup_runs_the_action(reader: Reader) -> None:
    """The first command's last step, on the copy: the action once, against the sandbox."""
    install, _ = setup_commands()
    step = install.rsplit("&& ", 1)[1]
    done = subprocess.run(shlex.split(step), cwd=reader.project, env=reader.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["statusCode"] == 200
