"""Text from a server, made safe to print on the developer's terminal.

An activation's logs and result, or a server's error text, are written by whoever
controls the action or the server; raw control characters in them could clear the
screen, retitle the window, plant an OSC 8 link or write the clipboard (OSC 52).
Every C0 and C1 control character but tab and newline is shown escaped (``\\x1b``).
"""

from __future__ import annotations

import re
from typing import TextIO

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with each control character but tab and newline as ``\\xNN``."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
