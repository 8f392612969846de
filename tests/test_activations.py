"""deploy.py invoke, activation and logs over real HTTP against the OpenWhisk stand-in."""

from __future__ import annotations

import json
import pathlib
from http.server import BaseHTTPRequestHandler

import pytest

import deploy as cli
from tests.deploy_support import FIXTURES, HELLO_ENV, alarm_project, deploy_cli
from tests.openwhisk_standin import AUTH, OpenWhiskStandIn, Run
from tools.deploy import activations
from tools.loopback import LoopbackServer

ALARM = FIXTURES / "alarm_project" / "manifest.yaml"
SECRET = HELLO_ENV["API_SECRET"]
KEY = AUTH.partition(":")[2]


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, ow: OpenWhiskStandIn,
            capsys: pytest.CaptureFixture[str]) -> pathlib.Path:
    root = alarm_project(tmp_path, monkeypatch, ow.env())
    monkeypatch.setattr(activations, "sleep", lambda _seconds: None)
    assert cli.main(["deploy"]) == 0
    capsys.readouterr()
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    return deploy_cli(capsys, *argv, hidden=(SECRET,))


def json_log(message: str, **extra: object) -> str:
    return json.dumps({"time": "2024-01-01T00:00:00.000Z", "level": "info",
                       "logger": "actions.hello", "message": message, **extra})


def test_invoke_prints_the_result_masked_and_the_activation(project, ow, capsys):
    ow.on_invoke("demo/hello", lambda args: {"greeting": f"hi {args['who']}",
                                             "echo": args["API_SECRET"], "auth": AUTH})
    status, out = run(capsys, "invoke", "demo/hello", "-p", "who", "you")
    assert status == 0, out
    assert '"greeting": "hi you"' in out
    assert "<hidden>" in out
    (activation_id,) = ow.activations
    assert f"activation {activation_id}  5ms  success" in out
    assert ow.calls_to("actions", "POST")[-1].query["blocking"] == "true"


def test_invoke_param_file_and_application_error(project, ow, capsys, tmp_path):
    seen = []
    ow.on_invoke("demo/hello", lambda args: seen.append(args) or Run(
        {"error": f"bad {SECRET}"}, status="application error"))
    (tmp_path / "p.json").write_text('{"n": 1, "who": "file"}')
    status, out = run(capsys, "invoke", "demo/hello", "--param-file", str(tmp_path / "p.json"),
                      "-p", "who", "flag")
    assert status == 1
    assert seen[0]["n"] == 1
    assert seen[0]["who"] == "flag"
    (activation_id,) = ow.activations
    assert activation_id in out
    assert "application error" in out
    assert len([call for call in ow.calls_to("actions", "POST")
                if call.name == "demo/hello"]) == 1  # a 502 is not sent again


def test_invoke_polls_an_activation_past_the_blocking_window(project, ow, capsys):
    ow.blocking_window_ms = 100
    ow.on_invoke("demo/hello", Run({"done": True}, duration=5000, pending=3))
    status, out = run(capsys, "invoke", "demo/hello")
    assert status == 0, out
    assert '"done": true' in out
    assert "5000ms  success" in out
    assert "outlived the blocking wait" in out


def test_activation_record_logs_and_result(project, ow, capsys):
    ow.on_invoke("demo/hello", Run({"token": SECRET}, logs=[json_log(f"using {SECRET}")]))
    assert run(capsys, "invoke", "demo/hello")[0] == 0
    (activation_id,) = ow.activations
    status, out = run(capsys, "activation", activation_id, "--result")
    assert status == 0
    assert '"success": true' in out
    status, out = run(capsys, "activation", activation_id, "--logs")
    assert status == 0
    assert "stdout:" in out
    assert "<hidden>" in out
    status, out = run(capsys, "activation", activation_id)
    assert status == 0
    assert activation_id in out
    assert run(capsys, "activation", "0" * 32)[0] == 1


def test_logs_oldest_first_formatted_and_raw(project, ow, capsys):
    for index in range(3):
        ow.on_invoke("demo/hello", Run({}, logs=[json_log(f"call {index}", user=AUTH,
                                                          n=index), "plain text"]))
        run(capsys, "invoke", "demo/hello")
    ow.on_invoke("demo/second", Run({"error": "no"}, status="action developer error"))
    run(capsys, "invoke", "demo/second")
    status, out = run(capsys, "logs")
    assert status == 0, out
    assert out.index("call 0") < out.index("call 1") < out.index("call 2")
    assert "2024-01-01T00:00:00.000Z info actions.hello: call 0 user=<hidden> n=0" in out
    assert "action developer error  demo/second" in out
    status, out = run(capsys, "logs", "demo/hello", "--limit", "2", "--raw")
    assert "call 0" not in out
    assert '"message": "call 2"' in out
    assert ow.calls[-1].query["name"] == "demo/hello"


def test_logs_follow_prints_each_activation_once_with_a_late_one(project, ow, capsys,
                                                                 monkeypatch):
    ow.on_invoke("demo/hello", lambda args: Run({}, logs=[f"run {args['n']}"],
                                                late=args.get("late", 0)))
    run(capsys, "invoke", "demo/hello", "-p", "n", "0")
    steps = [
        lambda: run(capsys, "invoke", "demo/hello", "-p", "n", "1", "-p", "late", "4"),
        lambda: run(capsys, "invoke", "demo/hello", "-p", "n", "2"),
        lambda: None, lambda: None, lambda: None,
        lambda: run(capsys, "invoke", "demo/hello", "-p", "n", "3"),
        lambda: None, lambda: None,
    ]
    printed: list[str] = []

    def step(_seconds: float) -> None:
        printed.append(capsys.readouterr().out)
        if not steps:
            raise KeyboardInterrupt
        steps.pop(0)()

    monkeypatch.setattr(activations, "sleep", step)
    status = cli.main(["logs", "demo/hello", "--follow"])
    out = "".join(printed) + capsys.readouterr().out
    assert status == 130
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert sorted(line.split()[-1] for line in lines) == ["0", "1", "2", "3"], out
    assert len(out.splitlines()) == 8  # four headers, four log lines: none twice


class _Web(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"] or 0))
        data = json.dumps({"path": self.path, "got": body.decode(),
                           "header": self.headers.get("X-Test"),
                           "auth": self.headers.get("Authorization")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_invoke_web_calls_the_web_url_without_the_auth_key(project, capsys):
    server = LoopbackServer(("127.0.0.1", 0), _Web)
    server.start()
    try:
        status, out = run(capsys, "invoke", "demo/hello", "--web", "--method", "POST",
                          "--header", "X-Test: yes", "--data", "hello", "--apihost", server.url,
                          "--auth", AUTH)
    finally:
        server.stop()
    assert status == 0, out
    assert out.startswith("HTTP 201\n")
    assert "Content-Type: application/json" in out
    body = json.loads(out.strip().splitlines()[-1])
    assert body == {"path": "/api/v1/web/ns/demo/hello", "got": "hello", "header": "yes",
                    "auth": None}
