"""The one start/stop lifecycle (tools.loopback.LoopbackService) of the three local servers:
the Adobe emulator, the local web-action server and the OpenWhisk controller stand-in."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from tests.openwhisk_standin import OpenWhiskStandIn
from tools.local.server import WebActionServer
from tools.loopback import LoopbackService
from tools.sandbox import AdobeEmulator

SERVICES: dict[str, Callable[[], LoopbackService]] = {
    "the emulator": AdobeEmulator,
    "the web server": lambda: WebActionServer([], "guest", port=0),
    "the stand-in": OpenWhiskStandIn,
}


@pytest.mark.parametrize("name", SERVICES)
def test_each_server_serves_while_started_and_leaves_nothing_behind(name: str) -> None:
    before = set(threading.enumerate())
    service = SERVICES[name]()
    with pytest.raises(RuntimeError, match=f"{name} is not running"):
        _ = service.url
    with service as running:
        assert running is service
        with pytest.raises(RuntimeError, match=f"{name} is already running"):
            service.start()
        url = service.url
        with requests.Session() as session:  # a keep-alive connection the stop must cut
            session.trust_env = False
            assert session.get(url + "/", timeout=5).status_code < 500
    with pytest.raises(RuntimeError, match=f"{name} is not running"):
        _ = service.url
    service.stop()  # a second stop is harmless
    assert set(threading.enumerate()) == before
    with socket.socket() as probe:  # the port is closed
        assert probe.connect_ex(("127.0.0.1", urlsplit(url).port)) != 0


@pytest.mark.parametrize("name", SERVICES)
def test_each_server_starts_again_after_a_stop(name: str) -> None:
    service = SERVICES[name]()
    for _ in range(2):
        with service, requests.Session() as session:
            session.trust_env = False
            assert session.get(service.url + "/", timeout=5).status_code < 500
