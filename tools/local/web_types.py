"""Web requests and answers as OpenWhisk's controller sees them, and its error messages.

The local web-action server follows OpenWhisk's own source
(core/controller/.../WebActions.scala, common/.../http/ErrorResponse.scala),
so a web action that works locally works deployed.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field

NOT_FOUND = "The requested resource does not exist."
NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."
UNAUTHORIZED = "The supplied authentication is invalid."
PROPERTY_NOT_FOUND = "Response does not include requested property."
UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
CONTENT_TYPE_MISMATCH = "Response type in header did not match generated content type."
PROCESSING_ERROR = "There was an error processing your request."

_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?")
_TEXT_APPLICATION_TYPES = frozenset({
    "application/json", "application/javascript", "application/xml",
    "application/x-www-form-urlencoded", "application/xhtml+xml", "image/svg+xml",
})

def invalid_media(media: str) -> str:
    return f"Response is not valid '{media}'."


class Rejection(Exception):
    """A request OpenWhisk refuses, or a result it cannot project: an error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebRequest:
    method: str  # as received, e.g. "GET"
    target: str  # the request target: path and query
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass(frozen=True)
class WebResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    activation_id: str | None = None


def is_json_family(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def is_binary(media: str) -> bool:
    """akka-http's notion: text/*, JSON, XML and a few others carry text; the rest bytes."""
    return not (media.startswith("text/") or media in _TEXT_APPLICATION_TYPES
                or media.endswith(("+json", "+xml")))


def looks_base64(text: str) -> bool:
    """OpenWhisk's test for a base64 string (Exec.isBinaryCode)."""
    trimmed = text.strip()
    return bool(trimmed) and len(trimmed) % 4 == 0 and _BASE64.fullmatch(trimmed) is not None


def decode_base64(text: str) -> bytes:
    """Java's basic decoder: strict alphabet, padding optional."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def error_answer(status: int, message: str, activation_id: str | None = None) -> WebResponse:
    """OpenWhisk's error body: the message and a transaction id."""
    body = json.dumps({"error": message, "code": secrets.token_hex(16)}).encode()
    return WebResponse(status, [("Content-Type", "application/json")], body, activation_id)
