"""``deploy.py list`` and ``deploy.py watch`` against the stateful OpenWhisk stand-in, with a
whole project copied into a temporary folder (the alarm project over the hello project's code,
its second action given code of its own)."""

from __future__ import annotations

import io
import pathlib
import shutil
from collections.abc import Callable

import pytest

import deploy as cli
from tests.deploy_support import FIXTURES, HELLO_ENV, alarm_project
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn
from tools.deploy import watch
from tools.deploy.operations import Options

ALARM = FIXTURES / "alarm_project" / "manifest.yaml"
SECRET = HELLO_ENV["API_SECRET"]
KEY = AUTH.partition(":")[2]
SECOND = "        second:\n          function: actions/hello\n"


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
            ow: OpenWhiskStandIn) -> pathlib.Path:
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    shutil.copytree(root / "actions" / "hello", root / "actions" / "second")
    (root / "actions" / "second" / "__init__.py").write_text(
        "from actions.second.handler import handler, main\n\n__all__ = ['handler', 'main']\n")
    manifest = (root / "manifest.yaml").read_text()
    assert SECOND in manifest
    (root / "manifest.yaml").write_text(
        manifest.replace(SECOND, SECOND.replace("actions/hello", "actions/second")))
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert KEY not in out + err
    assert SECRET not in out + err
    return out.splitlines()


def edit(project: pathlib.Path, old: str, new: str, name: str = "manifest.yaml") -> None:
    path = project / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def states(lines: list[str]) -> dict[str, str]:
    """'action demo/hello' -> its state, from list's lines."""
    found = {}
    for line in lines[1:-1]:
        kind, name, rest = line.split(None, 2)
        found[f"{kind} {name}"] = rest.split("  ")[0].strip()
    return found


# ---- list --------------------------------------------------------------------------------

def test_list_after_a_deploy_shows_every_entity_matching_and_the_web_url(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")
    ow.clear_calls()

    out = run(capsys, "list")

    assert ow.writes() == []  # list only reads
    assert out[0].startswith(f"Project alarm-demo on {ow.apihost}, namespace ns")
    assert states(out) == {
        "package demo": "matches", "binding alarms-binding": "matches",
        "action demo/hello": "matches", "action demo/second": "matches",
        "sequence demo/pipeline": "matches", "trigger every-five-minutes": "matches",
        "rule on-tick": "matches"}
    pipeline = next(line for line in out if "sequence demo/pipeline" in line)
    assert pipeline.endswith(f"  {ow.apihost}/api/v1/web/ns/demo/pipeline")
    assert [line for line in out if "/api/v1/web/" in line] == [pipeline]
    assert out[-1] == "7 matches, 0 differs, 0 missing, 0 not in the manifest."


def test_list_shows_what_differs_what_is_missing_and_what_the_manifest_dropped(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")
    edit(project, "name: $NAME", "name: someone-else")  # an input of demo/hello
    edit(project, "actions: hello, second", "actions: hello")
    edit(project, SECOND.replace("actions/hello", "actions/second")
         + "          runtime: python:3.11\n          main: handler\n", "")
    edit(project, "      sequences:", "        third:\n          function: actions/hello\n"
                                     "          runtime: python:3.11\n"
                                     "          web: 'yes'\n      sequences:")
    ow.clear_calls()

    out = run(capsys, "list")

    assert ow.writes() == []
    assert states(out) == {
        "package demo": "matches", "binding alarms-binding": "matches",
        "action demo/hello": "differs", "action demo/third": "missing",
        "sequence demo/pipeline": "differs", "trigger every-five-minutes": "matches",
        "rule on-tick": "matches", "action demo/second": "not in the manifest"}
    third = next(line for line in out if "action demo/third" in line)
    assert third.endswith(f"  {ow.apihost}/api/v1/web/ns/demo/third")
    assert out[-1] == "4 matches, 2 differs, 1 missing, 1 not in the manifest."


def test_list_masks_the_auth_key_and_secrets_in_errors(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")
    status = cli.main(["list", "--auth", f"wrong:{SECRET}"])
    out, err = capsys.readouterr()
    assert status != 0
    assert SECRET not in out + err
    assert KEY not in out + err


# ---- watch -------------------------------------------------------------------------------

def script(*steps: Callable[[], None]) -> Callable[[float], None]:
    """A ``sleep`` for watch that makes one change per look at the files."""
    pending = list(steps)

    def sleep(_seconds: float) -> None:
        pending.pop(0)()

    return sleep


def watched(project: pathlib.Path, sleep: Callable[[float], None], cycles: int,
            **options: object) -> list[str]:
    out = io.StringIO()
    assert watch.watch(project / "manifest.yaml", None, Options(**options), out=out,
                       max_cycles=cycles, sleep=sleep) == 0
    text = out.getvalue()
    assert KEY not in text
    assert SECRET not in text
    return text.splitlines()


def test_watch_sends_only_the_action_whose_file_was_saved(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")
    ow.clear_calls()
    writes: list[list[str]] = []

    def save_second() -> None:
        writes.append([call.brief for call in ow.writes()])  # the first deploy's
        ow.clear_calls()
        with (project / "actions" / "second" / "handler.py").open("a") as handler:
            handler.write("\n# saved\n")

    out = watched(project, script(save_second, lambda: None), 2)

    assert writes == [[]]  # started with nothing to send
    assert [call.brief for call in ow.writes()] == ["PUT actions/demo/second"]
    assert out[0].startswith("Watching the project of ")
    assert out[1].endswith(" nothing changed on the server in " + out[1].split(" in ")[-1])
    assert " sent action demo/second in " in out[2]
    assert out[2].endswith(" s")
    assert len(out) == 3  # the cycle with no change prints nothing


def test_watch_sends_only_the_entity_whose_input_changed_in_the_manifest(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")

    def change_input() -> None:
        ow.clear_calls()
        edit(project, "name: $NAME", "name: someone-else")

    out = watched(project, script(change_input), 1)

    assert [call.brief for call in ow.writes()] == ["PUT actions/demo/hello"]
    assert " sent action demo/hello in " in out[-1]


def test_watch_prints_a_manifest_error_and_recovers_on_the_next_save(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy")
    good = (project / "manifest.yaml").read_text()

    def break_it() -> None:
        ow.clear_calls()
        (project / "manifest.yaml").write_text(good + "  packages: [unclosed\n")

    def fix_it() -> None:
        assert ow.writes() == []
        (project / "manifest.yaml").write_text(good.replace("REGION: eu", "REGION: us"))

    out = watched(project, script(break_it, fix_it), 2)

    assert " error: " in out[2]
    assert "manifest.yaml: not valid YAML" in out[2]
    assert all(line.startswith("    ") for line in out[3:-1])  # the YAML error's context
    assert [call.brief for call in ow.writes()] == ["PUT packages/demo"]
    assert " sent package demo in " in out[-1]


def test_watch_prints_a_build_error_and_prunes_unless_told_not_to(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str],
        tmp_path: pathlib.Path) -> None:
    run(capsys, "deploy")
    outside = tmp_path / "outside.py"
    outside.write_text("LEAK = 1\n")

    def leak() -> None:  # a zip takes nothing from outside the project: a build error
        ow.clear_calls()
        (project / "lib" / "leak.py").symlink_to(outside)

    def drop_second() -> None:
        (project / "lib" / "leak.py").unlink()
        edit(project, "actions: hello, second", "actions: hello")
        edit(project, SECOND.replace("actions/hello", "actions/second")
             + "          runtime: python:3.11\n          main: handler\n", "")

    out = watched(project, script(leak, drop_second), 2, prune=False)

    assert "error: " in out[2]
    assert "leads out of the project folder" in out[2]
    assert [call.brief for call in ow.writes()] == ["PUT actions/demo/pipeline"]
    assert " sent sequence demo/pipeline in " in out[3]
    assert "demo/second" in ow.names("actions")

    out = watched(project, script(lambda: None), 1)

    assert " pruned action demo/second in " in out[1]


def test_watch_ends_cleanly_on_ctrl_c(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    out = watched(project, script(interrupt), None)  # type: ignore[arg-type]

    assert " sent package demo, binding alarms-binding, action demo/hello" in out[1]
    assert out[-1] == "Stopped watching."


def test_watch_through_the_command_line_with_a_bounded_number_of_cycles(
        project: pathlib.Path, ow: OpenWhiskStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "watch", "--max-cycles", "1", "--interval", "0")

    assert " sent " in out[1]
    assert len(ow.names("actions")) == 3
