"""The tools under hostile files and peers: YAML alias bombs and oversized files refused,
secrets written only to new private files, the local server's connections bounded."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import stat

import pytest
import requests
import yaml

import deploy as cli
from tests.local_support import Project, temporary_project
from tools.deploy.credentials import CredentialsError, find_credentials
from tools.errors import ManifestError
from tools.local import server as web_server
from tools.local.server import WebActionServer, serves_host
from tools.manifest import load_env, load_manifest
from tools.manifest.yaml_file import load_yaml
from tools.textfile import MAX_TEXT_FILE_BYTES

MANIFEST_HEAD = """\
packages:
  demo:
    actions:
      hello:
        function: hello.py
        runtime: python:3.11
"""
AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:key-value-that-is-secret-0123456789"


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    for name in ("AIO_RUNTIME_AUTH", "AIO_RUNTIME_APIHOST", "AIO_RUNTIME_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WSK_CONFIG_FILE", str(tmp_path / "no-wskprops"))
    (tmp_path / "no-wskprops").write_text("")
    (tmp_path / "hello.py").write_text("def main(params):\n    return {}\n")
    return tmp_path


# --- YAML and env files ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    billion_laughs(),
    billion_laughs(6).replace('["lol"]', "{k: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}"),
    "a: &a [*a]\n",  # an alias inside the value it names
])
def test_alias_bombs_are_refused_before_anything_walks_them(text: str) -> None:
    with pytest.raises(yaml.YAMLError, match="alias"):
        load_yaml(text)


def test_aliases_that_stay_small_still_load(project: pathlib.Path) -> None:
    assert load_yaml("a: &a [1, 2]\nb: [*a, *a]\n") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    assert load_yaml(billion_laughs(4)) is not None  # 11,111 values: under the cap
    (project / "manifest.yaml").write_text(
        MANIFEST_HEAD + "        inputs: &common\n          REGION: eu\n"
        "      bye:\n        function: hello.py\n        runtime: python:3.11\n"
        "        inputs:\n          <<: *common\n          EXTRA: x\n")
    manifest = load_manifest(project / "manifest.yaml", {})
    assert manifest.parameters(manifest.actions()[1]) == {"REGION": "eu", "EXTRA": "x"}


def test_a_bomb_in_the_manifest_exits_2_naming_the_file(project: pathlib.Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    (project / "manifest.yaml").write_text(billion_laughs().replace("a", "x-a") + MANIFEST_HEAD)
    for argv in (["render"], ["build"], ["deploy", "--dry-run"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "manifest.yaml: not valid YAML: aliases expand to more than 100000" in err
        assert "Traceback" not in err


@pytest.mark.parametrize("which", ["manifest", "env", "wskprops"])
def test_files_over_the_cap_are_refused_before_they_are_read(project: pathlib.Path,
                                                             which: str) -> None:
    huge = project / "huge"
    with huge.open("w") as handle:
        handle.write("# padding\n" * (MAX_TEXT_FILE_BYTES // 10 + 1))
    assert huge.stat().st_size > MAX_TEXT_FILE_BYTES
    if which == "manifest":
        with pytest.raises(ManifestError, match="huge: larger than 1048576 bytes"):
            load_manifest(huge, {})
    elif which == "env":
        with pytest.raises(ManifestError, match="huge: larger than 1048576 bytes"):
            load_env(huge)
    else:
        with pytest.raises(CredentialsError, match="huge: larger than 1048576 bytes"):
            find_credentials({"WSK_CONFIG_FILE": str(huge)})


def test_a_file_at_the_cap_is_read(project: pathlib.Path) -> None:
    env = project / "big.env"
    line = "PAD=" + "x" * 95 + "\n"
    env.write_text(line * (MAX_TEXT_FILE_BYTES // len(line)))
    assert env.stat().st_size <= MAX_TEXT_FILE_BYTES
    assert load_env(env)["PAD"] == "x" * 95


# --- files with secrets ------------------------------------------------------------------------

def secret_project(project: pathlib.Path) -> None:
    (project / "manifest.yaml").write_text(
        MANIFEST_HEAD + "        inputs:\n          API_SECRET: $API_SECRET\n"
                        "          COPY: $API_SECRET\n          WHERE: $AIO_RUNTIME_AUTH\n")
    (project / ".env").write_text(f"API_SECRET=the-secret-value-42\nAIO_RUNTIME_AUTH={AUTH}\n"
                                  "AIO_RUNTIME_APIHOST=https://ow.test\n")


def test_render_masks_secrets_by_value_too(project: pathlib.Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    secret_project(project)
    assert cli.main(["render"]) == 0
    out = capsys.readouterr().out
    assert "the-secret-value-42" not in out
    assert AUTH.partition(":")[2] not in out
    assert "COPY: <hidden>" in out
    assert cli.main(["render", "--show-secrets"]) == 0
    assert "COPY: the-secret-value-42" in capsys.readouterr().out


def test_render_output_replaces_a_link_instead_of_writing_through_it(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret_project(project)
    victim = project / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    (project / "rendered.yaml").symlink_to(victim)

    assert cli.main(["render", "--show-secrets", "--output", "rendered.yaml"]) == 0

    assert victim.read_text() == "keep me"
    written = project / "rendered.yaml"
    assert not written.is_symlink()
    assert "the-secret-value-42" in written.read_text()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert [p.name for p in project.iterdir() if p.name.endswith(".partial")] == []


def test_render_output_over_an_existing_file_is_a_new_private_file(
        project: pathlib.Path) -> None:
    secret_project(project)
    existing = project / "rendered.yaml"
    existing.write_text("old")
    existing.chmod(0o644)
    old_inode = existing.stat().st_ino
    other_name = project / "hard-link.yaml"
    os.link(existing, other_name)  # another name for the old file keeps the old content

    assert cli.main(["render", "--show-secrets", "--output", "rendered.yaml"]) == 0

    assert existing.stat().st_ino != old_inode
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert other_name.read_text() == "old"


# --- the local web-action server ---------------------------------------------------------------

@pytest.fixture
def local(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("AIO_RUNTIME_NAMESPACE", raising=False)
    yield from temporary_project(tmp_path, monkeypatch)


def raw_exchange(url: str, request: bytes, timeout: float = 10.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_an_idle_or_half_open_connection_is_closed(local: Project,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_server._WebHandler, "timeout", 0.3)
    with WebActionServer(local.all_local(), "guest", port=0) as server:
        for sent in (b"", b"GET /api/v1/web/guest/demo/reply HTTP/1.1\r\nHost: 127.0.0.1"):
            # The server hangs up by itself: recv returns b"" long before the client's timeout.
            assert raw_exchange(server.url, sent, timeout=10) == b""


def test_the_idle_timeout_is_15_seconds() -> None:
    assert web_server._WebHandler.timeout == web_server.IDLE_TIMEOUT_SECONDS == 15


def test_a_burst_of_connections_is_not_held_back(local: Project) -> None:
    server = web_server._WebServer(("127.0.0.1", 0), web_server.WebActions([], "guest"))
    try:  # bound and listening, but not accepting: only the listen backlog holds them
        connected = []
        for _ in range(64):
            client = socket.socket()
            client.settimeout(0.5)
            client.connect(server.server_address)
            connected.append(client)
        assert len(connected) == 64
    finally:
        for client in connected:
            client.close()
        server.server_close()


@pytest.mark.parametrize(("headers", "status", "message"), [
    (b"Content-Length: 2\r\nContent-Length: 2\r\n", 400, "more than one Content-Length"),
    (b"Content-Length: 2\r\nContent-Length: 9\r\n", 400, "more than one Content-Length"),
    (b"Host: 127.0.0.1:1\r\n", 400, "Host header does not name this server"),
    (b"", 400, "Host header does not name this server"),
])
def test_ambiguous_requests_are_refused(local: Project, headers: bytes, status: int,
                                        message: str) -> None:
    with WebActionServer(local.all_local(), "guest", port=0) as server:
        port = server.url.rsplit(":", 1)[1].encode()
        host = b"" if b"Host" in headers or headers == b"" else b"Host: 127.0.0.1:" + port + b"\r\n"
        request = (b"POST /api/v1/web/guest/demo/reply HTTP/1.1\r\n" + host + headers
                   + b"Content-Type: application/json\r\n\r\n{}")
        answer = raw_exchange(server.url, request)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert message.encode() in answer


def test_dns_rebinding_names_are_refused_and_loopback_names_served(local: Project) -> None:
    with WebActionServer(local.all_local(), "guest", port=0) as server, \
            requests.Session() as http:
        http.trust_env = False
        port = server.url.rsplit(":", 1)[1]
        url = f"{server.url}/api/v1/web/guest/demo/echo"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert http.get(url, headers={"Host": host}, timeout=10).status_code == 200, host
        for host in (f"attacker.example:{port}", f"127.0.0.1.nip.io:{port}", "127.0.0.1",
                     f"user@127.0.0.1:{port}"):
            answer = http.get(url, headers={"Host": host}, timeout=10)
            assert answer.status_code == 400, host
            assert answer.json()["error"] == "The Host header does not name this server."


def test_serves_host_on_an_address_open_to_other_machines() -> None:
    assert serves_host("192.0.2.7:9080", "0.0.0.0", 9080)  # noqa: S104 - the case under test
    assert serves_host(f"{socket.gethostname()}:9080", "0.0.0.0", 9080)  # noqa: S104
    assert not serves_host("rebound.example:9080", "0.0.0.0", 9080)  # noqa: S104
    assert not serves_host("192.0.2.7:9081", "0.0.0.0", 9080)  # noqa: S104
    assert serves_host("localhost", "127.0.0.1", 80)


def test_json_nested_too_deep_is_a_400_as_on_openwhisk(local: Project) -> None:
    with WebActionServer(local.all_local(), "guest", port=0) as server, \
            requests.Session() as http:
        http.trust_env = False
        body = "[" * 100_000 + "]" * 100_000
        answer = http.post(f"{server.url}/api/v1/web/guest/demo/reply", data=body,
                           headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error"] == "The request content was malformed: nested too deeply."
    assert json.loads(answer.text)["code"]


# --- transport of deploy.py ------------------------------------------------------------------

@pytest.mark.parametrize("apihost", ["http://ow.example.com", "http://10.1.2.3:3233",
                                     "HTTP://ow.example.com", "http://[2001:db8::1]"])
def test_plain_http_off_loopback_is_refused_unless_allowed(apihost: str) -> None:
    with pytest.raises(CredentialsError, match=r"plain http: the AUTH key would cross the "
                                               r"network in clear.*--allow-http"):
        find_credentials({}, apihost=apihost, auth=AUTH)
    assert find_credentials({}, apihost=apihost, auth=AUTH,
                            allow_http=True).apihost.lower() == apihost.lower()


@pytest.mark.parametrize("apihost", ["http://127.0.0.1:3233", "http://localhost:3233",
                                     "http://[::1]:3233", "https://ow.example.com"])
def test_https_and_loopback_need_no_flag(apihost: str) -> None:
    assert find_credentials({}, apihost=apihost, auth=AUTH).apihost == apihost


@pytest.mark.parametrize("apihost", ["https://ow.example.com/api", "https://ow.example.com?x=1",
                                     "https://ow.example.com#top", "ow.example.com#",
                                     "https://ow.example.com/#frag"])
def test_an_apihost_with_a_path_query_or_fragment_is_an_error(apihost: str) -> None:
    with pytest.raises(CredentialsError, match="no path, query or fragment"):
        find_credentials({}, apihost=apihost, auth=AUTH)


def test_deploy_refuses_plain_http_before_sending_anything(
        project: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "manifest.yaml").write_text(MANIFEST_HEAD)
    assert cli.main(["deploy", "--apihost", "http://ow.example.com", "--auth", AUTH]) == 2
    err = capsys.readouterr().err
    assert "plain http" in err
    assert AUTH.partition(":")[2] not in err
