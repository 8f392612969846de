"""No 500 from input, and a bounded log at debug whatever the request holds.

Text UTF-8 cannot encode (a lone surrogate) in the secret or the scopes is a
400; at debug, deeply nested, huge or wide parameters are logged within
bounds, and the cut never splits a known secret.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from actions.generic import main
from lib import log
from lib.params import MAX_LOGGED_CHARS, redacted_params
from lib.redact import HIDDEN, LOG_MAX_DEPTH, LOG_MAX_STRING, TOO_DEEP, known_secrets, shown
from tools.sandbox import AdobeEmulator

LONE = "\ud800"


pytestmark = pytest.mark.usefixtures("project_log_levels")


def nested(depth: int, leaf: Any = "leaf") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": [value]}
    return value


# --- what the debug line shows of the parameters ----------------------------------------------


@pytest.mark.parametrize("depth", [LOG_MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_is_cut_at_a_fixed_depth(depth: int) -> None:
    text = redacted_params({"nested": nested(depth)})
    assert TOO_DEEP in text
    assert len(text) < 500
    assert json.loads(text)


def test_shallow_nesting_is_shown_whole() -> None:
    value = {"a": {"b": {"c": [1, 2, {"d": "e"}]}}}
    assert json.loads(redacted_params(value)) == value


def test_a_huge_string_is_cut_and_counted() -> None:
    text = redacted_params({"blob": "x" * 1_000_000})
    shown_blob = json.loads(text)["blob"]
    assert shown_blob.startswith("x" * LOG_MAX_STRING)
    assert shown_blob.endswith(f"…<{1_000_000 - LOG_MAX_STRING} more characters>")


def test_huge_keys_are_cut_too() -> None:
    (key,) = json.loads(redacted_params({"k" * 50_000: 1}))
    assert len(key) < LOG_MAX_STRING + 40


def test_wide_params_are_counted_not_walked() -> None:
    params = {f"p{index}": index for index in range(100_000)}
    document = json.loads(redacted_params(params))
    assert len(document) == 201  # 200 entries and the count of the rest
    assert document["…"] == "<99800 more entries>"
    items = json.loads(redacted_params({"list": list(range(100_000))}))["list"]
    assert items[-1] == f"<{100_000 - len(items) + 1} more items>"
    assert len(items) <= 201


def test_the_whole_line_is_bounded() -> None:
    params = {f"p{index}": "y" * 5_000 for index in range(150)}
    text = redacted_params(params)
    assert len(text) <= MAX_LOGGED_CHARS + 40
    assert text.endswith("more characters>")


def test_huge_integers_are_described_not_printed() -> None:
    assert shown({"n": 10**5000}) == {"n": "<integer of 16610 bits>"}
    assert shown({"n": 2**63}) == {"n": 2**63}


def test_secret_names_are_still_hidden_at_every_depth_shown() -> None:
    value = {"a": {"client_secret": "s3cr3t-value", "b": [{"authorization": "Bearer x"}]}}
    assert shown(value) == {"a": {"client_secret": HIDDEN, "b": [{"authorization": HIDDEN}]}}


def test_a_cut_never_splits_a_known_secret() -> None:
    secret = "p8e-Straddling-Secret-0123456789"
    known_secrets.add(secret)
    for offset in range(1, len(secret)):  # the secret across the cut, at every position
        text = "z" * (LOG_MAX_STRING - offset) + secret + "z" * 5_000
        result = shown({"note": text})["note"]
        assert secret[:offset] not in result.replace(HIDDEN, "")
        assert HIDDEN in result


def test_a_known_secret_json_would_escape_is_masked_before_encoding() -> None:
    secret = 'p8e-"quoted"\\back\\slash-secret'
    known_secrets.add(secret)
    text = redacted_params({"note": f"it was {secret} all along"})
    assert "quoted" not in text
    assert HIDDEN in text


def test_values_json_cannot_encode_are_shown_by_repr_within_bounds() -> None:
    document = json.loads(redacted_params({"blob": b"\x00" * 100_000, "set": {1, 2}}))
    assert document["blob"].startswith("b'\\x00")
    assert document["blob"].endswith("more characters>")
    assert document["set"] == "{1, 2}"


# --- the log line itself ---------------------------------------------------------------------


def test_a_lone_surrogate_in_a_log_line_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure(logging.INFO)
    logging.getLogger("lib.test_hostile").info("name %s", f"a{LONE}b")
    line = capsys.readouterr().err.strip()
    line.encode("utf-8")  # printable as UTF-8
    assert "name a\\ud800b" in line  # a JSON escape: a reader gets the text back
    assert json.loads(line)["message"] == f"name a{LONE}b"


def test_a_huge_message_is_cut(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure(logging.INFO)
    logging.getLogger("lib.test_hostile").info("%s", "m" * 1_000_000)
    entry = json.loads(capsys.readouterr().err)
    assert len(entry["message"]) < log.MAX_FIELD_CHARS + 40
    assert entry["message"].endswith("more characters>")


# --- the action ------------------------------------------------------------------------------


def status_of(result: dict[str, Any]) -> int:
    return result["statusCode"] if "statusCode" in result else result["error"]["statusCode"]


@pytest.mark.parametrize(("name", "value"), [
    ("OAUTHS2S_CLIENT_SECRET", f"p8e-{LONE}-secret"),
    ("OAUTHS2S_CLIENT_SECRET", "\udfff" * 10),
    ("OAUTHS2S_CECREDENTIALS_METASCOPES", f"openid,AdobeID{LONE}"),
    ("OAUTHS2S_CECREDENTIALS_METASCOPES", ["openid", LONE]),
])
@pytest.mark.parametrize("level", ["info", "debug"])
def test_text_that_cannot_be_encoded_is_a_400(adobe: AdobeEmulator, name: str, value: Any,
                                             level: str) -> None:
    result = main({**adobe.params(), name: value, "LOG_LEVEL": level})
    assert status_of(result) == 400
    assert result["error"]["body"]["error"] == (
        f"parameter '{name}' must be valid Unicode text (it holds a lone surrogate)")
    assert adobe.token_requests == 0


@pytest.mark.parametrize("extra", [
    {"nested": nested(100_000)},
    {"blob": "x" * 1_000_000},
    {f"p{index}": index for index in range(100_000)},
    {f"k{LONE}": LONE, "n": 10**5000, "b": b"\xff" * 1000},
], ids=["deep", "huge", "wide", "odd"])
def test_hostile_params_at_debug_answer_200_and_log_little(
        adobe: AdobeEmulator, capsys: pytest.CaptureFixture[str], extra: dict[str, Any]) -> None:
    result = main({**adobe.params(), "LOG_LEVEL": "debug", **extra})
    assert status_of(result) == 200
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert any(line["message"].startswith("parameters: ") for line in lines)
    assert len(err) < 40_000
    err.encode("utf-8")
