"""Hiding secrets: by the name of the key that holds them, and by their value.

Two defences, because each alone has gaps: a parameter called
``OAUTHS2S_CLIENT_SECRET`` is hidden by its name wherever it is printed, and a
secret we know the value of (the client secret, an access token) is hidden
wherever its value turns up in a log line, whatever carried it there, and in
whatever spelling: as it is, JSON-escaped, URL-encoded or in base64.

Public, beside lib's front door, because the tools must mask exactly as the
action does. An action or tool may use: :data:`known_secrets` (``add`` a value
it learns, ``mask`` text before printing it), :func:`redact`,
:func:`is_secret_name` and :func:`secret_values` (secrets by key name),
:func:`shown` (what a log line may show), :func:`spellings`,
:class:`KnownSecrets` (a registry of its own) and :data:`HIDDEN`.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

HIDDEN = "<hidden>"

# Words that mark a key as holding a secret: one list for the action's logs and the tools'
# output alike ("key" covers api keys and AUTH keys; "auth" covers Authorization).
SECRET_WORDS: tuple[str, ...] = ("secret", "token", "password", "passwd", "auth", "key",
                                 "cookie")

# What a log line shows of a value (see shown): deep enough for any real request, small
# enough that a hostile one costs little to walk and little to print.
LOG_MAX_DEPTH = 8  # containers nested deeper are shown as TOO_DEEP
LOG_MAX_ITEMS = 200  # entries of dicts and lists walked in all; the rest are counted, not shown
LOG_MAX_STRING = 1_000  # characters of one string or key
TOO_DEEP = "<nested too deep>"


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


def shown(value: Any, *, max_depth: int = LOG_MAX_DEPTH, max_items: int = LOG_MAX_ITEMS,
          max_string: int = LOG_MAX_STRING, max_chars: int | None = None) -> Any:
    """What a log line may show of ``value``: redacted as :func:`redact`, and bounded.

    At most ``max_depth`` levels and ``max_items`` entries in all are walked, so
    neither a deeply nested value nor a huge one costs more than that; strings
    and keys are cut at ``max_string`` characters, never inside a known secret,
    and every known secret is masked before the value is encoded (JSON would
    escape a quote or backslash in it, and the masking of the line would miss
    it). Once ``max_chars`` characters of text are shown, further strings are
    only counted, so the masking costs no more than that much text. Values JSON
    cannot carry are shown by their ``repr``.
    """
    budget = [max_items]
    chars = [max_chars if max_chars is not None else float("inf")]

    def text(item: str) -> str:
        if chars[0] <= 0:
            return f"<{len(item)} characters>"
        if len(item) <= max_string:
            result = known_secrets.mask(item)
        else:
            cut = known_secrets.safe_cut(item, max_string)
            result = known_secrets.mask(item[:cut]) + f"…<{len(item) - cut} more characters>"
        chars[0] -= len(result)
        return result

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, str):
            return text(item)
        if item is None or isinstance(item, (bool, float)):
            return item
        if isinstance(item, int):
            return item if item.bit_length() <= 64 else f"<integer of {item.bit_length()} bits>"
        if isinstance(item, (Mapping, list, tuple)):
            if depth >= max_depth:
                return TOO_DEEP
            taken = max(0, min(len(item), budget[0]))
            budget[0] -= taken
            left = len(item) - taken
            if isinstance(item, Mapping):
                entries = {}
                for key, entry in itertools.islice(item.items(), taken):
                    name = text(key if isinstance(key, str) else repr(key))
                    entries[name] = HIDDEN if is_secret_name(key) else walk(entry, depth + 1)
                if left:
                    entries["…"] = f"<{left} more entries>"
                return entries
            items = [walk(entry, depth + 1) for entry in itertools.islice(item, taken)]
            if left:
                items.append(f"<{left} more items>")
            return items
        return text(repr(item))

    return walk(value, 0)


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


# Characters each URL encoder leaves as they are, besides letters, digits and ``_.-~``:
# Python's quote with its default, its strictest, and JavaScript's encodeURIComponent.
_URL_SAFE = ("/", "", "!'()*")
# base64 of a secret inside a longer encoded text starts at one of three byte offsets; that
# many bytes before it make the first 0, 2 or 3 characters depend on what precedes it.
_BASE64_SKIP = (0, 2, 3)


def spellings(value: str, min_length: int = 1) -> frozenset[str]:
    """Every way ``value`` may be written in a log line or an answer, at least ``min_length``
    characters long: as it is; JSON-escaped, with and without ASCII escapes, once and twice
    (a JSON string inside a JSON log line); URL-encoded as Python and JavaScript do; base64
    and base64url, alone and inside a longer encoded text (the characters only the secret
    decides, at each of the three alignments)."""
    found = {value}
    for ascii_only in (True, False):
        once = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        found |= {once, json.dumps(once, ensure_ascii=ascii_only)[1:-1]}
    data = value.encode("utf-8", "surrogatepass")
    found |= {quote(data, safe=safe) for safe in _URL_SAFE}
    found.add(quote_plus(data, safe=""))
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        found.add(encode(data).decode("ascii"))
        for shift, skip in enumerate(_BASE64_SKIP):
            total = shift + len(data)
            end = total // 3 * 4 + total % 3  # the last group's characters the secret decides
            found.add(encode(bytes(shift) + data)[skip:end].decode("ascii"))
    return frozenset(text for text in found if len(text) >= min_length)


class KnownSecrets:
    """Secret values seen at run time, masked wherever they appear in text, in any spelling
    (see :func:`spellings`).

    Bounded, in number and in characters (of every spelling kept): a warm container that
    rotates tokens for days, or that hundreds of identities pass through, keeps only the most
    recent values. A value in use is never forgotten, though: inside :meth:`in_use` (an
    invocation), every value added stays masked at least until the block ends, whatever else
    is added meanwhile.
    """

    MIN_LENGTH = 6  # shorter values (and spellings) would mask innocent text
    MAX_ENTRIES = 64
    # A token is about 1-2 KB, its spellings some 10 times that; their sum is bounded.
    MAX_CHARS = 1024 * 1024

    def __init__(self) -> None:
        self._values: dict[str, int] = {}  # value -> how many blocks hold it, oldest use first
        self._spelled: dict[str, frozenset[str]] = {}  # value -> its spellings
        self._chars = 0
        self._by_length: tuple[str, ...] | None = ()  # masking order, remade when values change
        self._lock = threading.Lock()
        self._local = threading.local()  # .held: the values this thread's block holds

    def add(self, value: object) -> None:
        if not isinstance(value, str) or len(value) < self.MIN_LENGTH:
            return
        held: list[str] | None = getattr(self._local, "held", None)
        spelled = None if value in self._spelled else spellings(value, self.MIN_LENGTH)
        with self._lock:
            holders = self._values.pop(value, None)
            if holders is None:
                holders = 0
                spelled = spelled or spellings(value, self.MIN_LENGTH)  # forgotten meanwhile
                self._spelled[value] = spelled
                self._chars += sum(map(len, spelled))
                self._by_length = None
            if held is not None:
                holders += 1
                held.append(value)
            self._values[value] = holders
            self._forget_oldest()

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Every value added in this thread during the block stays masked until it ends."""
        if getattr(self._local, "held", None) is not None:  # nested: the outer block holds
            yield
            return
        held: list[str] = []
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = None
            with self._lock:
                for value in held:
                    if value in self._values:
                        self._values[value] -= 1
                self._forget_oldest()

    def mask(self, text: str) -> str:
        for value in self._ordered():
            if value in text:
                text = text.replace(value, HIDDEN)
        return text

    def safe_cut(self, text: str, limit: int) -> int:
        """A length at least ``limit`` at which ``text`` can be cut without splitting a secret."""
        cut = limit
        values = self._ordered()
        moved = True
        while moved and cut < len(text):
            moved = False
            for value in values:
                start = text.find(value, max(0, cut - len(value) + 1), cut + len(value) - 1)
                if start != -1 and start < cut < start + len(value):
                    cut, moved = start + len(value), True
        return min(cut, len(text))

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def _ordered(self) -> tuple[str, ...]:
        ordered = self._by_length
        if ordered is None:
            with self._lock:
                # A longer spelling may hold a shorter one: mask the longer first.
                every = {text for value in self._values for text in self._spelled[value]}
                ordered = self._by_length = tuple(sorted(every, key=len, reverse=True))
        return ordered

    def _forget_oldest(self) -> None:
        """Drop the least recently added values no block holds until within bounds (lock held)."""
        if len(self._values) <= self.MAX_ENTRIES and self._chars <= self.MAX_CHARS:
            return
        for value in list(self._values):
            if len(self._values) <= self.MAX_ENTRIES and self._chars <= self.MAX_CHARS:
                break
            if self._values[value] == 0:
                del self._values[value]
                self._chars -= sum(map(len, self._spelled.pop(value)))
        self._by_length = None


known_secrets = KnownSecrets()
