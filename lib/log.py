"""Structured logs for the activation log, at App Builder's level names.

One JSON object a line on stderr, which OpenWhisk keeps as the activation's
log. Every line passes through :data:`lib.redact.known_secrets`, so a client
secret or token that slips into a message or a traceback is printed as
``<hidden>``. A message or traceback is cut at ``MAX_FIELD_CHARS``, and text
that UTF-8 cannot encode (a lone surrogate) is escaped, so no input can make a
line fail to print.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from lib.redact import known_secrets

VERBOSE = 15
logging.addLevelName(VERBOSE, "VERBOSE")

# App Builder's (winston's) level names; ``silly`` is the most verbose there.
LEVELS: dict[str, int] = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "verbose": VERBOSE,
    "debug": logging.DEBUG,
    "silly": logging.DEBUG,
}
DEFAULT_LEVEL = "info"
MAX_FIELD_CHARS = 32_000  # of a message or a traceback in one line: a log is no dump
PROJECT_LOGGERS = ("actions", "lib")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "activation_id", ...extra}``, secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            # Masked before encoding too: JSON escapes quotes and backslashes inside a secret.
            "message": _bounded(known_secrets.mask(record.getMessage())),
        }
        activation_id = os.environ.get("__OW_ACTIVATION_ID")
        if activation_id:
            entry["activation_id"] = activation_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = _bounded(known_secrets.mask(self.formatException(record.exc_info)))
        line = known_secrets.mask(json.dumps(entry, default=str, ensure_ascii=False))
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from the input: escaped, not a crash
            line = line.encode("utf-8", "backslashreplace").decode("utf-8")
        return line


def _bounded(text: str) -> str:
    """At most MAX_FIELD_CHARS of ``text`` (already masked: the cut cannot split a secret)."""
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return text[:MAX_FIELD_CHARS] + f"…<{len(text) - MAX_FIELD_CHARS} more characters>"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now, so redirected or captured stderr is honoured."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_handler: logging.Handler | None = None
_configure_lock = threading.Lock()


def parse_level(name: object) -> int:
    """The logging level for an App Builder level name; ValueError names the accepted ones."""
    if isinstance(name, str) and name.strip().lower() in LEVELS:
        return LEVELS[name.strip().lower()]
    raise ValueError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}")


def configure(level: int = logging.INFO) -> None:
    """Send the project's loggers to stderr as JSON at ``level``; safe to call every invocation."""
    global _handler
    with _configure_lock:
        if _handler is None:
            _handler = StderrHandler()
            _handler.setFormatter(JsonFormatter())
            for name in PROJECT_LOGGERS:
                logging.getLogger(name).addHandler(_handler)
        for name in PROJECT_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level != level:  # setLevel clears every logger's cache, even when unchanged
                logger.setLevel(level)


def fields(**values: object) -> dict[str, dict[str, object]]:
    """Structured fields for a log call: ``log.info("token minted", extra=fields(ttl=3600))``."""
    return {"fields": values}
