"""An action's result projected into an HTTP answer, as OpenWhisk's controller does it.

The ``.http``/``.json``/``.html``/``.svg``/``.text`` projections; an error
result is projected from its ``error`` value by the caller.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from tools.local.web_types import (
    CONTENT_TYPE_MISMATCH,
    PROPERTY_NOT_FOUND,
    UNKNOWN_CONTENT_TYPE,
    Rejection,
    WebResponse,
    decode_base64,
    invalid_media,
    is_binary,
    is_json_family,
    looks_base64,
)
from tools.loopback import media_type

_MEDIA_TYPE = re.compile(r"[\w!#$&^.+-]+/[\w!#$&^.+-]+", re.ASCII)
_STATUS_TEXT = re.compile(r"[+-]?\d+")
_KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)


def project(value: Any, extension: str) -> WebResponse:
    """The HTTP answer for a result (or an error result's ``error`` value) under ``extension``."""
    return _TRANSCODERS[extension](value)


def _as_http(value: Any) -> WebResponse:
    if not isinstance(value, dict):
        raise Rejection(400, invalid_media("message/http"))
    headers = _result_headers(value)
    status = _result_status(value)
    body = value.get("body")
    if body is None or body == "":
        return WebResponse(204 if status is None else status, _without_content_type(headers))
    if isinstance(body, str):
        return _text_answer(200 if status is None else status, headers, body)
    return _json_answer(200 if status is None else status, headers, body)


def _result_headers(value: dict[str, Any]) -> list[tuple[str, str]]:
    if "headers" not in value:
        return []
    if not isinstance(value["headers"], dict):
        raise Rejection(400, invalid_media("message/http"))
    found: list[tuple[str, str]] = []
    for name, item in value["headers"].items():
        found.extend((name, text) for text in _header_values(item))
    return found


def _header_values(item: Any) -> list[str]:
    if isinstance(item, bool):
        return ["true" if item else "false"]
    if isinstance(item, (str, int, float)):
        return [str(item)]
    if isinstance(item, list):
        return [text for inner in item for text in _header_values(inner)]
    raise Rejection(400, invalid_media("message/http"))


def _result_status(value: dict[str, Any]) -> int | None:
    if "statusCode" not in value:
        return None
    code = value["statusCode"]
    whole_float = isinstance(code, float) and code.is_integer()
    if whole_float or (isinstance(code, str) and _STATUS_TEXT.fullmatch(code)):
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or code not in _KNOWN_STATUSES:
        raise Rejection(400, invalid_media("message/http"))
    return code


def _content_type(headers: list[tuple[str, str]], default: str) -> str:
    given = next((v for k, v in headers if k.lower() == "content-type"), None)
    if given is None:
        return default
    if not _MEDIA_TYPE.fullmatch(media_type(given)):
        raise Rejection(400, UNKNOWN_CONTENT_TYPE)
    return given


def _without_content_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-type"]


def _text_answer(status: int, headers: list[tuple[str, str]], body: str) -> WebResponse:
    content_type = _content_type(headers, "text/html")
    media = media_type(content_type)
    try:
        if is_binary(media) or (is_json_family(media) and looks_base64(body)):
            data = decode_base64(body)
        else:
            data = body.encode()
    except (binascii.Error, ValueError):
        raise Rejection(400, CONTENT_TYPE_MISMATCH) from None
    if not is_binary(media) and "charset" not in content_type.lower():
        content_type += "; charset=UTF-8"
    return WebResponse(status, [*_without_content_type(headers), ("Content-Type", content_type)],
                       data)


def _json_answer(status: int, headers: list[tuple[str, str]], body: Any) -> WebResponse:
    content_type = _content_type(headers, "application/json")
    if not is_json_family(media_type(content_type)):
        raise Rejection(400, CONTENT_TYPE_MISMATCH)
    return WebResponse(status, [*_without_content_type(headers), ("Content-Type", content_type)],
                       json.dumps(body).encode())


def _as_json(value: Any) -> WebResponse:
    if not isinstance(value, (dict, list)):
        raise Rejection(400, invalid_media("application/json"))
    return WebResponse(200, [("Content-Type", "application/json")], json.dumps(value).encode())


def _as_markup(field_name: str, content_type: str) -> Callable[[Any], WebResponse]:
    """``.html``/``.svg``: the result's ``body`` (else its ``html``/``svg``) as a string."""

    def transcode(value: Any) -> WebResponse:
        if isinstance(value, dict):
            value = value["body"] if "body" in value else value.get(field_name)
        if not isinstance(value, str):
            raise Rejection(400, invalid_media(media_type(content_type)))
        return WebResponse(200, [("Content-Type", content_type)], value.encode())

    return transcode


def _as_text(value: Any) -> WebResponse:
    if isinstance(value, dict):
        if "body" not in value and "text" not in value:
            raise Rejection(404, PROPERTY_NOT_FOUND)
        value = value["body"] if "body" in value else value["text"]
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, indent=2)
    else:
        text = json.dumps(value)  # true, 12, null as JSON spells them
    return WebResponse(200, [("Content-Type", "text/plain; charset=UTF-8")], text.encode())


_TRANSCODERS: dict[str, Callable[[Any], WebResponse]] = {
    ".http": _as_http,
    ".json": _as_json,
    ".html": _as_markup("html", "text/html; charset=UTF-8"),
    ".svg": _as_markup("svg", "image/svg+xml"),
    ".text": _as_text,
}
