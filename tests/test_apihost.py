"""An APIHOST is a scheme, a host and a port, nothing else: what a URL parser drops quietly (an
empty query or fragment, a lone ``@``, a blank) would be pasted into every REST and web URL."""

from __future__ import annotations

import pathlib

import pytest

import deploy as cli
from tools.deploy.credentials import CredentialsError, find_credentials, normal_apihost

AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:key-value-that-is-secret-0123456789"


@pytest.mark.parametrize("apihost", [
    "http://127.0.0.1:3233?", "http://127.0.0.1:3233/?", "https://ow.example.com?",
    "ow.example.com?", "http://127.0.0.1:3233#", "ow.example.com/#", "http://@127.0.0.1:3233",
    "https://@ow.example.com", "https://ow example.com", "https://ow.example.com :443",
    "https://ow.example.com\t:443", "http://127.0.0.1:", "https://ow.example.com\\x",
    "https://ow.example.com;x", "https://ow%2eexample.com", "https://[::1",
])
def test_anything_but_a_host_and_a_port_is_refused(apihost: str) -> None:
    with pytest.raises(CredentialsError, match=r"is not a host or an http\(s\) URL of one"):
        normal_apihost(apihost)


@pytest.mark.parametrize(("apihost", "normal"), [
    ("http://127.0.0.1:3233", "http://127.0.0.1:3233"),
    ("  http://127.0.0.1:3233/  ", "http://127.0.0.1:3233"),
    ("ow.example.com", "https://ow.example.com"),
    ("https://ow_controller.internal:8443", "https://ow_controller.internal:8443"),
    ("http://[::1]:3233", "http://[::1]:3233"),
])
def test_a_host_and_a_port_are_kept(apihost: str, normal: str) -> None:
    assert normal_apihost(apihost) == normal


def test_a_key_before_the_at_sign_is_never_shown() -> None:
    with pytest.raises(CredentialsError) as caught:
        normal_apihost(f"https://{AUTH}@@ow.example.com")
    assert AUTH.partition(":")[2] not in str(caught.value)
    assert "<hidden>" in str(caught.value)


def test_the_deploy_command_refuses_an_empty_query_before_sending(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("AIO_RUNTIME_AUTH", "AIO_RUNTIME_APIHOST", "AIO_RUNTIME_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WSK_CONFIG_FILE", str(tmp_path / "no-wskprops"))
    (tmp_path / "no-wskprops").write_text("")
    (tmp_path / "hello.py").write_text("def main(params):\n    return {}\n")
    (tmp_path / "manifest.yaml").write_text(
        "packages:\n  demo:\n    actions:\n      hello:\n        function: hello.py\n"
        "        runtime: python:3.11\n")

    status = cli.main(["deploy", "--apihost", "http://127.0.0.1:9?", "--auth", AUTH])

    err = capsys.readouterr().err
    assert status == 2
    assert "APIHOST 'http://127.0.0.1:9?' is not a host" in err
    assert "Traceback" not in err


def test_find_credentials_uses_the_same_rule() -> None:
    with pytest.raises(CredentialsError, match="not a host"):
        find_credentials({"AIO_RUNTIME_APIHOST": "http://127.0.0.1:3233?",
                          "AIO_RUNTIME_AUTH": AUTH})
