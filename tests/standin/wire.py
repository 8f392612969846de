"""What the stand-in receives and answers: a request as recorded and as parsed, an answer, an
error answer, and the controller's fixed messages and name rule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

API = "/api/v1"
NOT_FOUND = "The requested resource does not exist."
MALFORMED = "The request content was malformed:\n"
CONFORMANCE = "Resource by this name exists but is not in this collection."
# EntityName (common/scala/.../core/entity/EntityPath.scala), as Java reads \w.
ENTITY_NAME = re.compile(r"\A(\w|\w[\w@ .-]*[\w@.-]+)\Z", re.ASCII)

Json = Any
Doc = dict[str, Any]
Entries = dict[str, dict[str, Any]]  # parameters or annotations by key: {"key", "value"[, "init"]}


class Reject(Exception):
    """An error answer, ``{"error": message, "code": <transaction id>}``."""

    def __init__(self, status: int, message: str = NOT_FOUND) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json = None  # JSON; a str goes as text/plain, None as no body
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One request as received: ``path`` as sent (percent-encoded), ``body`` as parsed JSON."""

    method: str
    path: str
    query: dict[str, str]
    body: Json

    @property
    def collection(self) -> str:
        """``actions``, ``packages``, ``triggers``, ``rules``; "" for other paths."""
        parts = self.path.split("/")
        return parts[5] if len(parts) > 5 and parts[1:4] == ["api", "v1", "namespaces"] else ""

    @property
    def name(self) -> str:
        """The entity, unquoted: ``demo/hello``."""
        return "/".join(unquote(part) for part in self.path.split("/")[6:])

    @property
    def brief(self) -> str:
        """``PUT actions/demo/hello``; ``GET /`` for other paths."""
        if not self.collection:
            return f"{self.method} {self.path}"
        return f"{self.method} {self.collection}/{self.name}".rstrip("/")


@dataclass(frozen=True)
class Request:
    """One REST operation on an entity: ``names`` is ``[name]`` or, for actions, ``[pkg, name]``."""

    namespace: str
    names: list[str]
    query: Mapping[str, str]
    body: Doc

    @property
    def docid(self) -> str:
        return "/".join((self.namespace, *self.names))

    def flag(self, name: str, default: str = "false") -> bool:
        return self.query.get(name, default).lower() == "true"


