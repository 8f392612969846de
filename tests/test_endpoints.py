"""lib.endpoints: credentials go to Adobe's hosts over https, or to a loopback test double."""

from __future__ import annotations

import pytest

from lib.endpoints import DEFAULT_AEM_BASE_URL, DEFAULT_IMS_TOKEN_URL, AdobeEndpoints
from lib.errors import ConfigurationError


def test_defaults_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AdobeEndpoints.from_env() == AdobeEndpoints(DEFAULT_IMS_TOKEN_URL, DEFAULT_AEM_BASE_URL)
    monkeypatch.setenv("IMS_TOKEN_URL", "")
    monkeypatch.setenv("AEM_API_BASE_URL", "")
    assert AdobeEndpoints.from_env() == AdobeEndpoints(DEFAULT_IMS_TOKEN_URL, DEFAULT_AEM_BASE_URL)
    assert DEFAULT_IMS_TOKEN_URL == "https://ims-na1.adobelogin.com/ims/token/v3"
    assert DEFAULT_AEM_BASE_URL == "https://api.adobeaemcloud.com"


@pytest.mark.parametrize(
    ("ims_url", "aem_url"),
    [
        ("https://ims-na1-stg1.adobelogin.com/ims/token/v3", "https://api.adobeaemcloud.com"),
        ("https://IMS-NA1.AdobeLogin.com/ims/token/v3", "https://author-p1-e2.adobeaemcloud.com/"),
        ("http://127.0.0.1:8080/ims/token/v3", "http://127.0.0.1:8080"),
        ("http://localhost:1/ims/token/v3", "https://localhost"),
        ("http://[::1]:9000/ims/token/v3", "http://127.0.0.2:9000/base"),
    ],
)
def test_accepted(monkeypatch: pytest.MonkeyPatch, ims_url: str, aem_url: str) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", ims_url)
    monkeypatch.setenv("AEM_API_BASE_URL", aem_url)
    assert AdobeEndpoints.from_env() == AdobeEndpoints(ims_url, aem_url)


@pytest.mark.parametrize(
    "url",
    ["http://ims-na1.adobelogin.com/ims/token/v3", "ftp://127.0.0.1/x", "file:///etc/passwd",
     "ims-na1.adobelogin.com/ims/token/v3", "http://10.0.0.1/ims/token/v3",
     "http://localhost.example.com/ims"],
)
def test_https_only_off_loopback(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", url)
    with pytest.raises(ConfigurationError, match="IMS_TOKEN_URL must be an https URL") as caught:
        AdobeEndpoints.from_env()
    assert caught.value.status == 500


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com/ims/token/v3", "https://adobelogin.com.evil.example/ims",
     "https://evil-adobelogin.com/ims", "https://adobelogin.com/ims",
     "https://api.adobeaemcloud.com/ims/token/v3",  # an AEM host is not an IMS host
     "https://evil.example#.adobelogin.com/ims", "https://evil.example?.adobelogin.com/ims",
     "https://evil.example/.adobelogin.com/ims"],
)
def test_ims_only_on_adobe_login_hosts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", url)
    with pytest.raises(ConfigurationError,
                       match=r"IMS_TOKEN_URL must point at a host ending in \.adobelogin\.com"):
        AdobeEndpoints.from_env()


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com", "https://ims-na1.adobelogin.com",
     "https://adobeaemcloud.com.evil.example"],
)
def test_aem_only_on_aem_cloud_hosts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("AEM_API_BASE_URL", url)
    with pytest.raises(ConfigurationError,
                       match=r"AEM_API_BASE_URL must point at a host ending in "
                             r"\.adobeaemcloud\.com"):
        AdobeEndpoints.from_env()


# --- parser differentials: the host checked must be the host dialed --------------------------


def refused(monkeypatch: pytest.MonkeyPatch, url: str, variable: str = "IMS_TOKEN_URL") -> str:
    monkeypatch.setenv(variable, url)
    with pytest.raises(ConfigurationError) as caught:
        AdobeEndpoints.from_env()
    assert caught.value.status == 500
    assert caught.value.message.startswith(f"{variable} ")
    return caught.value.message


@pytest.mark.parametrize(
    "url",
    ["https://evil.example\\.adobelogin.com/ims/token/v3",  # the example
     "http://evil.example\\@127.0.0.1:8080/ims/token/v3",  # urllib.parse: loopback; urllib3: not
     "https://evil.example\\@ims-na1.adobelogin.com/ims",
     "https://ims-na1.adobelogin.com\\/ims/token/v3",
     "https://evil.example\t.adobelogin.com/ims/token/v3",  # urllib.parse drops the tab
     "https://evil.example\n.adobelogin.com/ims/token/v3",
     "https://evil.example .adobelogin.com/ims/token/v3",
     " https://ims-na1.adobelogin.com/ims/token/v3",
     "https://evil.example\u3002adobelogin.com/ims/token/v3",  # IDNA maps U+3002 to a dot
     "https://ev\u0131l.adobelogin.com/ims/token/v3",  # non-ASCII, punycoded by urllib3
     "https://ims-na1.adobelogin.com\u2024evil.example/ims/token/v3"],
)
def test_text_a_parser_could_read_two_ways_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                      url: str) -> None:
    assert refused(monkeypatch, url) == (
        "IMS_TOKEN_URL must be a URL of visible ASCII characters, without spaces, control "
        "characters or backslashes")


@pytest.mark.parametrize(
    "url",
    ["https://user:pw@ims-na1.adobelogin.com/ims/token/v3",
     "https://ims-na1.adobelogin.com@evil.example/ims",
     "https://ims-na1.adobelogin.com%2f@evil.example/ims",
     "http://user@127.0.0.1:8080/ims/token/v3",  # not even on loopback
     "https://@ims-na1.adobelogin.com/ims/token/v3"],
)
def test_user_information_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert refused(monkeypatch, url) == (
        "IMS_TOKEN_URL must not carry user information (user@host)")


@pytest.mark.parametrize(
    "url",
    ["https://evil.example%2e.adobelogin.com/ims/token/v3",  # urllib3 decodes it: another host
     "https://ims-na1%2eadobelogin.com/ims/token/v3",
     "https://ims-na1.adobelogin.com./ims/token/v3",  # trailing dot
     "https://ims_na1.adobelogin.com/ims/token/v3",  # underscore: not LDH
     "https://-ims.adobelogin.com/ims/token/v3",
     "https://ims..adobelogin.com/ims/token/v3",
     "http://127.1:8080/ims/token/v3",  # the resolver reads 127.0.0.1
     "http://0x7f.0.0.1:8080/ims/token/v3",
     "http://2130706433:8080/ims/token/v3",
     "http://0x7f:8080/ims/token/v3",
     "http://127.000.000.001:8080/ims/token/v3",
     "http://[::1%25lo]:8080/ims/token/v3",  # a zone id
     "http://[127.0.0.1]:8080/ims/token/v3",
     "https://ims-na1.adobelogin.com;x/ims/token/v3",
     "https://:443/ims/token/v3", "https:///ims/token/v3"],
)
def test_a_host_must_be_a_plain_dns_name_or_ip_literal(monkeypatch: pytest.MonkeyPatch,
                                                        url: str) -> None:
    message = refused(monkeypatch, url)
    assert message in (
        "IMS_TOKEN_URL must name its host as a plain DNS name (letters, digits, hyphens) or an "
        "IP literal",
        "IMS_TOKEN_URL is read differently by urllib.parse and urllib3 (scheme, host or port): "
        "refused, as the host checked would not be the host dialed",
        "IMS_TOKEN_URL is not a valid URL")


@pytest.mark.parametrize(
    "url",
    ["https://ims-na1.adobelogin.com:443:80/ims", "https://ims-na1.adobelogin.com:+443/ims",
     "http://127.0.0.1:65536/ims", "https://ims-na1.adobelogin.com:x/ims",
     "http://[::1/ims", "https://[ims-na1.adobelogin.com]/ims"],
)
def test_a_url_either_parser_refuses_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                url: str) -> None:
    assert refused(monkeypatch, url) in (
        "IMS_TOKEN_URL is not a valid URL",
        "IMS_TOKEN_URL is read differently by urllib.parse and urllib3 (scheme, host or port): "
        "refused, as the host checked would not be the host dialed",
        "IMS_TOKEN_URL must name its host as a plain DNS name (letters, digits, hyphens) or an "
        "IP literal")


@pytest.mark.parametrize(
    "url",
    ["https://evil.example\\.adobeaemcloud.com", "https://evil.example%2e.adobeaemcloud.com",
     "https://me:pw@api.adobeaemcloud.com", "http://evil.example\\@[::1]:9000"],
)
def test_the_aem_url_is_judged_the_same_way(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    refused(monkeypatch, url, "AEM_API_BASE_URL")


def test_no_message_quotes_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("https://user:hunter2-pw@ims-na1.adobelogin.com/x",
                "https://hunter2-pw\\.adobelogin.com/x", "http://hunter2-pw.example/x",
                "https://hunter2-pw%2e.adobelogin.com/x", "https://hunter2-pw:99999/x"):
        assert "hunter2" not in refused(monkeypatch, url)


@pytest.mark.parametrize(
    "url",
    ["https://ims-na1.adobelogin.com:443/ims/token/v3", "https://IMS-NA1.ADOBELOGIN.COM/ims/token/v3",
     "HTTPS://ims-na1.adobelogin.com/ims/token/v3", "https://a-b.c-d.adobelogin.com/x",
     "https://ims-na1.adobelogin.com/ims/token/v3?x=1", "http://127.0.0.1/ims/token/v3",
     "http://[::1]/ims/token/v3", "http://[0:0:0:0:0:0:0:1]:80/x", "http://localhost/x",
     "https://ims-na1.adobelogin.com/path%20with/escapes"],
)
def test_plain_urls_still_pass(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", url)
    assert AdobeEndpoints.from_env().ims_token_url == url


def test_the_judgement_agrees_with_what_urllib3_dials() -> None:
    """The host the check passes is the host requests' adapter connects to."""
    import requests
    from urllib3.util import parse_url

    from lib.endpoints import checked_url

    for url in ("https://ims-na1.adobelogin.com/ims/token/v3", "http://127.0.0.1:1/x"):
        judged = checked_url("NO_SUCH_VARIABLE", url, (".adobelogin.com",))
        assert parse_url(requests.Request("GET", judged).prepare().url).host in (
            "ims-na1.adobelogin.com", "127.0.0.1")
