"""Adobe IMS and AEM emulated on loopback: ``--sandbox`` runs and the test suite use it.

Imports nothing but the standard library and lib/, so tests and benchmarks that
need only the emulator stay light.
"""

from tools.sandbox.emulator import AdobeEmulator
from tools.sandbox.services import (
    ABSENT,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_ORG_ID,
    SANDBOX_SCOPES,
    Fault,
    RecordedRequest,
)

__all__ = [
    "ABSENT",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_ORG_ID",
    "SANDBOX_SCOPES",
    "AdobeEmulator",
    "Fault",
    "RecordedRequest",
]
