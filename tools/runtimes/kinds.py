"""Which kind an action runs: as written, the server's default of a family, or inferred from
the code's file extension, as wskdeploy infers it.

``runtime: nodejs``, ``runtime: nodejs:default`` and no runtime at all for ``hello.js`` all
mean "the server's default Node.js kind". Offline (render, a dry run without a server) the
stock OpenWhisk defaults stand in, and the output says so; a deploy asks the server
(``GET /`` lists each family's kinds, one marked ``default``).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Stock OpenWhisk's default kind of each family (ansible/files/runtimes.json), for offline use.
STOCK_DEFAULTS: dict[str, str] = {
    "nodejs": "nodejs:20", "python": "python:3.10", "java": "java:8", "swift": "swift:5.3",
    "php": "php:8.0", "ruby": "ruby:2.5", "go": "go:1.15", "dotnet": "dotnet:3.1",
    "rust": "rust:1.34", "ballerina": "ballerina:0.990",
}
# Every kind stock OpenWhisk registers; one outside it is the server's to judge.
STOCK_KINDS = frozenset({*STOCK_DEFAULTS.values(), "python:3.11", "nodejs:18", "nodejs:16",
                         "swift:5.1", "swift:5.4", "php:7.4", "php:8.1", "dotnet:2.2",
                         "go:1.17", "blackbox"})
# A function's extension -> its family, as wskdeploy infers a runtime (utils/runtimes.go).
EXTENSIONS: dict[str, str] = {
    ".js": "nodejs", ".py": "python", ".java": "java", ".jar": "java", ".swift": "swift",
    ".php": "php", ".rb": "ruby", ".go": "go", ".rs": "rust", ".bal": "ballerina",
}
REQUIRES_MAIN = ("java", "dotnet")  # runtimes.json's requireMain
BLACKBOX = "blackbox"
DOCKER_SKELETON = "openwhisk/dockerskeleton"  # what native: true runs, as wskdeploy has it
_KIND = re.compile(r"[a-z][a-z0-9]*(?::[A-Za-z0-9][\w.-]*)?")


@dataclass(frozen=True)
class KindChoice:
    """What the manifest says of the kind: a kind, or a family whose default kind is meant."""

    kind: str  # the kind to deploy: as written, or the default standing in
    default_of: str = ""  # the family, when ``kind`` is that family's default

    def resolved(self, defaults: Mapping[str, str]) -> KindChoice:
        """With the server's defaults (family -> kind) instead of the stock ones."""
        if self.default_of and self.default_of in defaults:
            return KindChoice(defaults[self.default_of], self.default_of)
        return self


def is_kind(text: str) -> bool:
    return bool(_KIND.fullmatch(text))


def choose(written: str | None, function: str | None) -> KindChoice | None:
    """The kind ``runtime:``/``kind:`` names, or the one a function's extension implies; None
    when neither says (the caller's error to word)."""
    if written:
        family, _, version = written.partition(":")
        if version in ("", "default"):
            return KindChoice(STOCK_DEFAULTS.get(family, written), family)
        return KindChoice(written)
    if function:
        family = EXTENSIONS.get(pathlib.PurePath(function).suffix.lower())
        if family:
            return KindChoice(STOCK_DEFAULTS[family], family)
    return None


def server_defaults(runtimes: Mapping[str, object]) -> dict[str, str]:
    """family -> its default kind, from the ``runtimes`` map of ``GET /``."""
    found = {}
    for family, kinds in runtimes.items():
        if isinstance(kinds, list):
            for entry in kinds:
                if isinstance(entry, dict) and entry.get("default") is True \
                        and isinstance(entry.get("kind"), str):
                    found[family] = entry["kind"]
    return found
