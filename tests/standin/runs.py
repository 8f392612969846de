"""What an invocation of one of the namespace's actions produces: the stand-in runs no user
code, so a test says what each action's run gives (OpenWhiskStandIn.on_invoke)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tests.standin.wire import Doc, Json

STATUS_CODES = {"success": 0, "application error": 1, "action developer error": 2,
                "whisk internal error": 3}
PENDING_GETS = 2  # GETs of an activation answered 404 before one past the blocking window ends


@dataclass(frozen=True)
class Run:
    """What one invocation of an action produced (the stand-in runs no user code): ``logs`` as
    OpenWhisk stores them (a line without the ``<time> stdout: `` prefix gets one), ``status``
    one of STATUS_CODES, ``duration`` in ms. ``late``: list requests after it ended that do not
    show it yet (the list is eventually consistent). ``pending``: GETs of it answered 404 before
    it ends (None: PENDING_GETS when ``duration`` outlives the blocking window, else 0)."""

    result: Json = field(default_factory=dict)
    logs: Sequence[str] = ()
    status: str = "success"
    duration: int = 5
    late: int = 0
    pending: int | None = None


Handler = Callable[[Doc], "Run | Doc"] | Run | Doc  # a callable of the arguments, or canned


def log_line(text: str, start_ms: int, stream: str = "stdout") -> str:
    """``2024-01-01T00:00:00.000Z stdout: text``, as OpenWhisk stores an activation's log."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start_ms / 1000))
    return f"{stamp}.{start_ms % 1000:03d}Z {stream}: {text}"


LOG_PREFIX = re.compile(r"\A\d{4}-\d\d-\d\dT\S+ (stdout|stderr): ")
