"""Hiding secrets: by the name of the key that holds them, and by their value.

Two defences, because each alone has gaps: a parameter called
``OAUTHS2S_CLIENT_SECRET`` is hidden by its name wherever it is printed, and a
secret we know the value of (the client secret, an access token) is hidden
wherever its value turns up in a log line, whatever carried it there.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

HIDDEN = "<hidden>"

# Words that mark a key as holding a secret: one list for the action's logs and the tools'
# output alike ("key" covers api keys and AUTH keys; "auth" covers Authorization).
SECRET_WORDS: tuple[str, ...] = ("secret", "token", "password", "passwd", "auth", "key",
                                 "cookie")


def _normalise(name: str) -> str:
    # "auth" marks a credential (AUTH, X-Require-Whisk-Auth), but not inside the protocol's
    # name: OAUTHS2S_CLIENT_ID is no secret. The "_" keeps words from joining across it.
    return re.sub(r"[^a-z0-9]", "", name.lower()).replace("oauth", "o_")


def is_secret_name(name: object) -> bool:
    """True when a key's name says it holds a secret (``x-api-key``, ``client_secret`` …)."""
    key = _normalise(str(name))
    return any(word in key for word in SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-named key's value replaced, at any depth."""
    if isinstance(value, dict):
        return {k: HIDDEN if is_secret_name(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def secret_values(value: Any) -> Iterator[str]:
    """The strings held under secret-named keys at any depth: what to tell KnownSecrets."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and is_secret_name(key):
                yield item
            else:
                yield from secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_values(item)


class KnownSecrets:
    """Secret values seen at run time, masked wherever they appear in text.

    Bounded: a warm container that rotates tokens for days keeps only the most
    recent ones, which are the only ones it can still be holding.
    """

    MIN_LENGTH = 6  # shorter values would mask innocent text
    MAX_ENTRIES = 64

    def __init__(self) -> None:
        self._values: dict[str, None] = {}
        self._lock = threading.Lock()

    def add(self, value: object) -> None:
        if not isinstance(value, str) or len(value) < self.MIN_LENGTH:
            return
        with self._lock:
            self._values.pop(value, None)
            self._values[value] = None
            while len(self._values) > self.MAX_ENTRIES:
                del self._values[next(iter(self._values))]

    def mask(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)  # a longer one may hold a shorter
        for value in values:
            if value in text:
                text = text.replace(value, HIDDEN)
        return text


known_secrets = KnownSecrets()
