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
     "https://user:pw@ims-na1.adobelogin.com/ims/token/v3",
     "https://ims-na1.adobelogin.com@evil.example/ims",
     "https://evil.example\\@ims-na1.adobelogin.com/ims"],
)
def test_ims_only_on_adobe_login_hosts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("IMS_TOKEN_URL", url)
    with pytest.raises(ConfigurationError,
                       match=r"IMS_TOKEN_URL must point at a host ending in \.adobelogin\.com"):
        AdobeEndpoints.from_env()


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com", "https://ims-na1.adobelogin.com",
     "https://adobeaemcloud.com.evil.example", "https://me:pw@api.adobeaemcloud.com"],
)
def test_aem_only_on_aem_cloud_hosts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("AEM_API_BASE_URL", url)
    with pytest.raises(ConfigurationError,
                       match=r"AEM_API_BASE_URL must point at a host ending in "
                             r"\.adobeaemcloud\.com"):
        AdobeEndpoints.from_env()
