"""Activation records and their log lines as ``deploy.py logs`` prints them; pure functions.

Our actions' JSON log lines are shown as ``time level logger: message key=value…``; any
other line as it is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

_LOG = re.compile(r"\A(\S+) (stdout|stderr): ?(.*)\Z", re.DOTALL)
_SHOWN_FIELDS = ("time", "level", "logger", "message")
_HIDDEN_FIELDS = ("activation_id", "exception")


STATUS = {0: "success", 1: "application error", 2: "action developer error",
           3: "whisk internal error"}


def format_log_line(line: str, mask: Callable[[Any], Any] = lambda value: value) -> str:
    """A stored log line with our actions' JSON shown as ``time level logger: message k=v…``;
    any other line as it is. ``mask`` sees the decoded values before they are encoded again,
    so a secret stored JSON-escaped is found in its own spelling."""
    match = _LOG.match(line)
    if not match:
        return line
    try:
        entry = json.loads(match.group(3))
    except (ValueError, RecursionError):
        return line
    if not isinstance(entry, dict) or not all(key in entry for key in ("level", "message")):
        return line
    entry = mask(entry)
    extra = " ".join(f"{key}={_value(value)}" for key, value in entry.items()
                     if key not in _SHOWN_FIELDS and key not in _HIDDEN_FIELDS)
    text = (f"{entry.get('time', match.group(1))} {entry['level']} "
            f"{entry.get('logger', '-')}: {entry['message']}" + (f" {extra}" if extra else ""))
    if entry.get("exception"):
        text += "\n" + "\n".join("    " + part for part in str(entry["exception"]).splitlines())
    return text


def _value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"=" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def started_ms(activation: Mapping[str, Any]) -> int:
    start = activation.get("start")
    return start if isinstance(start, int) else 0


def timestamp(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def duration(activation: Mapping[str, Any]) -> str:
    duration = activation.get("duration")
    return f"{duration}ms" if isinstance(duration, int) else "?ms"


def entity_path(activation: Mapping[str, Any]) -> str:
    for note in activation.get("annotations") or []:
        if isinstance(note, dict) and note.get("key") == "path":
            return str(note.get("value")).partition("/")[2]
    return str(activation.get("name", ""))
