"""What invocations leave behind, kept for the leak check and the log budget: every log record
at debug and all printed output."""

from __future__ import annotations

import contextlib
import io
import logging


class Capture(logging.Handler):
    """Every log record at debug, raw (message, structured fields, traceback), and all output."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []
        self.out = io.StringIO()
        self._stack = contextlib.ExitStack()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.getMessage()} {getattr(record, 'fields', '')}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(text)

    def text(self) -> str:
        return "\n".join([*self.records, self.out.getvalue()])

    def __enter__(self) -> Capture:
        root = logging.getLogger()
        self._stack.callback(root.setLevel, root.level)
        self._stack.callback(root.removeHandler, self)
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        self._stack.enter_context(contextlib.redirect_stdout(self.out))
        self._stack.enter_context(contextlib.redirect_stderr(self.out))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

