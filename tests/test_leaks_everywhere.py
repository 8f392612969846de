"""No secret anywhere, under every fault scenario and every deploy.py command.

The secrets: the client secret, every access token IMS granted, a web
caller's own bearer token, and the OpenWhisk AUTH key. Where they must not
appear: any log record at debug (pytest's ``caplog`` keeps the raw records of
every logger, urllib3's included), any response, anything printed (``capfd``,
at the file-descriptor level), any error message. Files deploy.py writes
that hold a secret must be readable by their owner only.
"""

from __future__ import annotations

import logging
import pathlib
import stat
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import deploy as cli
from bench.faults import CALLER_TOKEN, SCENARIOS, Scenario, run_scenario
from tests.deploy_support import HELLO_ENV, HELLO_MANIFEST, closed_port, make_project
from tests.test_deploy_failures import FakeOpenWhisk, Scripted, running
from tools.sandbox import AdobeEmulator

AUTH_KEY = "k3y-0f-the-namespace-for-leak-tests-0123456789"
AUTH = f"uuid-leak-0001:{AUTH_KEY}"
CLIENT_SECRET = "p8e-leak-test-client-secret-0123456789"
NAMESPACE = "ns"
# The hello project's manifest, with the tutorial's client secret as one of its inputs.
MANIFEST = HELLO_MANIFEST.replace("API_SECRET: $API_SECRET",
                                  "OAUTHS2S_CLIENT_SECRET: $OAUTHS2S_CLIENT_SECRET")
# A typed input whose value does not fit its type: the error must not echo the secret.
BAD_TYPED_SECRET = MANIFEST.replace(
    "OAUTHS2S_CLIENT_SECRET: $OAUTHS2S_CLIENT_SECRET",
    "OAUTHS2S_CLIENT_SECRET: {type: integer, value: $OAUTHS2S_CLIENT_SECRET}")
ECHO = f"invalid parameter OAUTHS2S_CLIENT_SECRET={CLIENT_SECRET} sent with {AUTH}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records are kept
    return caplog


def captured(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Raw log records (message, arguments, structured fields, tracebacks) and printed output."""
    printed = capfd.readouterr()
    records = [f"{r.getMessage()} {r.args!r} {getattr(r, 'fields', '')}" for r in caplog.records]
    return "\n".join([caplog.text, *records, printed.out, printed.err])


# --- the action, under every fault ----------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_no_secret_in_any_fault_scenario(
        adobe: AdobeEmulator, scenario: Scenario, debug_logs: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    observation = run_scenario(adobe, scenario)
    seen = "\n".join([observation.seen, captured(debug_logs, capfd)])
    tokens = {r.headers["authorization"].removeprefix("Bearer ")
              for r in adobe.requests if r.endpoint == "aem"}

    assert "parameters:" in seen  # the capture holds the action's debug logs
    assert '"level": "debug"' in seen  # and the JSON lines it printed
    if scenario.requests[1]:
        assert tokens  # the action got tokens, and they are searched for
    for secret in (adobe.client_secret, CALLER_TOKEN, *tokens):
        assert secret not in seen
    assert observation.leaks == ()


# --- deploy.py, every command ---------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    status: int  # the exit status that shows the path was really taken
    manifest: str = MANIFEST
    answers: tuple[tuple[str, str, Scripted], ...] = ()  # (method, entity, answer)
    auth: str = AUTH
    reachable: bool = True


COMMANDS = (
    Command("render", ("render",), 0),
    Command("render to a file", ("render", "--show-secrets", "--output", "resolved.yaml"), 0),
    Command("render, a secret of the wrong type", ("render",), 2, manifest=BAD_TYPED_SECRET),
    Command("build", ("build", "--out", "zips"), 0),
    Command("deploy", ("deploy",), 0),
    Command("deploy --dry-run", ("deploy", "--dry-run"), 0),
    Command("deploy, the action refused with an echo", ("deploy",), 1,
            answers=(("PUT", "actions/demo/hello", Scripted(400, ECHO)),)),
    Command("deploy, the AUTH key refused with an echo", ("deploy",), 1,
            auth="uuid-x:wrong-key-0123456789"),
    Command("deploy, server unreachable", ("deploy",), 1, reachable=False),
    Command("deploy, AUTH key malformed", ("deploy",), 2, auth=AUTH_KEY),
    Command("undeploy", ("undeploy",), 0),
    Command("undeploy --dry-run", ("undeploy", "--dry-run"), 0),
    Command("undeploy, refused with an echo", ("undeploy",), 1,
            answers=(("DELETE", "actions/demo/hello", Scripted(409, ECHO)),)),
)


@pytest.fixture
def openwhisk() -> Iterator[FakeOpenWhisk]:
    with running(FakeOpenWhisk(AUTH)) as fake:
        yield fake


def files_under(root: pathlib.Path) -> dict[pathlib.Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_no_secret_from_any_deploy_command(
        command: Command, openwhisk: FakeOpenWhisk, tmp_path: pathlib.Path,
        monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "project"
    make_project(root, command.manifest)
    apihost = openwhisk.url if command.reachable else f"http://127.0.0.1:{closed_port()}"
    env = {**HELLO_ENV, "OAUTHS2S_CLIENT_SECRET": CLIENT_SECRET,
           "AIO_RUNTIME_APIHOST": apihost, "AIO_RUNTIME_AUTH": command.auth,
           "AIO_RUNTIME_NAMESPACE": NAMESPACE}
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (root / ".env").chmod(0o600)
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(tmp_path))
    for method, entity, answer in command.answers:
        openwhisk.script(method, entity, answer)
    if command.name.startswith("undeploy"):
        openwhisk.entities.update({"packages/demo": {}, "actions/demo/hello": {}})
    before = files_under(root)

    status = cli.main(list(command.argv))

    assert status == command.status
    seen = captured(debug_logs, capfd)
    assert seen.strip()  # something was printed or logged: the check has material
    key = command.auth.partition(":")[2]
    for secret in (CLIENT_SECRET, AUTH_KEY, command.auth, *([key] if key else [])):
        assert secret not in seen
    written = [path for path, mtime in files_under(root).items() if before.get(path) != mtime]
    holding = [path for path in written
               if any(secret.encode() in path.read_bytes() for secret in (CLIENT_SECRET, AUTH_KEY))]
    for path in holding:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    if "--output" in command.argv:
        assert holding == [root / "resolved.yaml"]  # the file check is not vacuous
    else:
        assert holding == []
