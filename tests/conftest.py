"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from lib import ims

# Set by the host machine or an OpenWhisk container, they would change what a test sees.
_PROCESS_VARIABLES = (
    "IMS_TOKEN_URL",
    "AEM_API_BASE_URL",
    "__OW_DEADLINE",
    "__OW_ACTIVATION_ID",
    "__OW_ACTION_NAME",
    "__OW_NAMESPACE",
    "AIO_RUNTIME_APIHOST",
    "AIO_RUNTIME_AUTH",
    "AIO_RUNTIME_NAMESPACE",
    "WSK_CONFIG_FILE",
    # The action's identity, when OpenWhisk passes it as init parameters.
    "OAUTHS2S_CLIENT_ID",
    "OAUTHS2S_CLIENT_SECRET",
    "OAUTHS2S_CECREDENTIALS_METASCOPES",
    "IMS_ORG_ID",
    # deploy.py honours a developer's proxy and CA bundle; the tests talk to loopback only.
    *(f"{scheme}_PROXY" for scheme in ("HTTP", "HTTPS", "ALL", "NO")),
    *(f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")),
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def cold_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a cold container: no cached token, none of the host's settings."""
    for name in _PROCESS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    ims.token_cache.clear()
    yield
    ims.token_cache.clear()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """`responses` for the test: every registered answer must be asked for, nothing else."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def adobe(monkeypatch: pytest.MonkeyPatch):
    """The sandbox IMS + AEM emulator on loopback, with the action's endpoints pointed at it."""
    from tools.sandbox import AdobeEmulator

    with AdobeEmulator() as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


@pytest.fixture
def ow():
    """A stateful OpenWhisk controller stand-in on loopback (tests/openwhisk_standin.py)."""
    from tests.openwhisk_standin import AUTH, OpenWhiskStandIn

    with OpenWhiskStandIn(auth=AUTH, namespace="ns") as standin:
        yield standin


@pytest.fixture
def project_log_levels() -> Iterator[None]:
    """Put the project loggers' levels back, so other tests see what they expect."""
    import logging

    from lib import log

    saved = {name: logging.getLogger(name).level for name in log.PROJECT_LOGGERS}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
