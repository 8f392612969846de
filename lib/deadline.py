"""The time an activation has left.

OpenWhisk puts the activation's deadline in ``__OW_DEADLINE`` (epoch
milliseconds, as a string). Every wait, connect, read and retry sleep is cut to
fit inside it, so the action answers a clear 504 instead of being killed.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

# Time kept back to build and return the response after the last upstream call.
RESERVE_SECONDS = 0.5


class Deadline(NamedTuple):
    """An absolute deadline on the wall clock, or none (local runs without ``__OW_DEADLINE``)."""

    epoch_seconds: float | None = None

    @classmethod
    def from_env(cls) -> Deadline:
        raw = os.environ.get("__OW_DEADLINE", "")
        try:
            return cls(int(raw) / 1000.0)
        except ValueError:
            return cls(None)

    def remaining(self) -> float | None:
        """Seconds left for upstream work (after the reserve), or None when unbounded."""
        if self.epoch_seconds is None:
            return None
        return self.epoch_seconds - time.time() - RESERVE_SECONDS
