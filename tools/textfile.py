"""The small text files the tools take structure and secrets from, or write secrets to.

A manifest, a ``.env`` or a ``~/.wskprops`` holds a few kilobytes; one of many
megabytes is a mistake or an attack, refused before it is read whole, and so is
anything but a regular file. A file written with secrets is new, the owner's
alone, and never written through a link.
"""

from __future__ import annotations

import io
import os
import pathlib
import secrets
import stat

from dotenv import dotenv_values

from tools.errors import ToolError

MAX_TEXT_FILE_BYTES = 1024 * 1024


def read_text(path: pathlib.Path, error: type[ToolError]) -> str:
    """The file as UTF-8 text; ``error`` when it is over the cap or no regular file (a FIFO
    would block the read forever, ``/dev/zero`` never ends). OSError and UnicodeDecodeError
    are the caller's to word."""
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise error(f"{path}: cannot read: not a regular file (a folder, a FIFO or a "
                        "device)")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_TEXT_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise error(f"{path}: larger than {MAX_TEXT_FILE_BYTES} bytes; not read")
    return data.decode("utf-8")


def read_env_file(path: pathlib.Path, error: type[ToolError]) -> dict[str, str]:
    """``KEY=VALUE`` lines as dotenv reads them, taken literally (no ``${X}`` expansion), so
    a secret holding ``$`` survives intact; ``error`` names the file when it cannot be read."""
    try:
        values = dotenv_values(stream=io.StringIO(read_text(path, error)), interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    return {key: value for key, value in values.items() if value is not None}


def write_private(path: pathlib.Path, text: str) -> None:
    """``text`` at ``path``, readable by the owner only: written to a new file (never through a
    link, never into an existing file that keeps its mode), then renamed into place."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)  # a link at ``path`` is replaced, not followed
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
