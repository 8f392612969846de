"""An in-process emulator of Adobe IMS (v3 token endpoint) and AEM's contentRequestsQuota.

It lets a fresh clone run the action end to end without credentials, and the
test suite exercise the real HTTP path on loopback: it checks requests the way
the documented services do (tools.sandbox.services), and can be scripted to be
slow, throttle, fail, drop connections or expire tokens.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from lib.endpoints import AEM_BASE_URL_VARIABLE, IMS_TOKEN_PATH, IMS_TOKEN_URL_VARIABLE, is_loopback
from tools.loopback import LoopbackService
from tools.sandbox.server import SandboxServer
from tools.sandbox.services import (
    ENDPOINTS,
    AdobeServices,
    Fault,
    RecordedRequest,
)


class AdobeEmulator(AdobeServices, LoopbackService):
    """IMS + AEM on one loopback port; a context manager that starts and stops it."""

    service_name = "the emulator"

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1", port: int = 0,
                 **credentials: Any) -> None:
        """``credentials``: AdobeServices' ``client_id``, ``client_secret``, ``org_id``,
        ``scopes`` and ``expires_in``, the sandbox's own by default."""
        if not is_loopback(host):
            raise ValueError(f"the emulator binds loopback only, not {host}")
        super().__init__(**credentials)
        self.latency = latency
        self._address = (host, port)
        self._stopping = threading.Event()
        self._faults: dict[str, deque[Fault]] = {name: deque() for name in ENDPOINTS}
        self._requests: list[RecordedRequest] = []
        self._token_requests = 0
        self._aem_requests = 0
        self._connections = 0

    # --- lifecycle --------------------------------------------------------------------------

    def _new_server(self) -> SandboxServer:
        self._stopping.clear()  # a new run: delayed answers wait out their delay again
        return SandboxServer(self._address, self)

    def stop(self) -> None:
        """Wake delayed answers, cut open connections and wait for every handler thread."""
        self._stopping.set()
        super().stop()

    # --- addresses and credentials ---------------------------------------------------------

    @property
    def ims_token_url(self) -> str:
        return self.url + IMS_TOKEN_PATH

    @property
    def aem_base_url(self) -> str:
        return self.url

    def env(self) -> dict[str, str]:
        """The process environment that points the action's endpoints here."""
        return {IMS_TOKEN_URL_VARIABLE: self.ims_token_url,
                AEM_BASE_URL_VARIABLE: self.aem_base_url}

    # --- scripting and inspection ----------------------------------------------------------

    def queue(self, endpoint: str, *faults: Fault) -> None:
        """The next answers of ``endpoint`` ("ims" or "aem"), in order, instead of normal ones."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        with self._lock:
            self._faults[endpoint].extend(faults)

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._token_requests

    @property
    def aem_requests(self) -> int:
        with self._lock:
            return self._aem_requests

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Clear counters, recorded requests and queued faults (issued tokens stay valid)."""
        with self._lock:
            self._requests.clear()
            self._token_requests = self._aem_requests = self._connections = 0
            for faults in self._faults.values():
                faults.clear()

    # --- called by the handler threads -----------------------------------------------------

    def connection_opened(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def record(self, request: RecordedRequest) -> Fault | None:
        """Store the request, count it, and take the fault queued for its endpoint, if any."""
        with self._lock:
            self._requests.append(request)
            if request.endpoint == "ims" and request.method == "POST":
                self._token_requests += 1
            elif request.endpoint == "aem":
                self._aem_requests += 1
            queued = self._faults.get(request.endpoint)
            return queued.popleft() if queued else None

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the emulator stops; False when it is stopping."""
        if seconds > 0:
            self._stopping.wait(seconds)
        return not self._stopping.is_set()

