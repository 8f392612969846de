"""lib.redact: secrets hidden by the name of their key at any depth, and by their value."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from typing import Any

import pytest

from lib import log
from lib.redact import (
    HIDDEN,
    KnownSecrets,
    is_secret_name,
    known_secrets,
    redact,
    secret_values,
    spellings,
)


@pytest.mark.parametrize(
    "name",
    ["client_secret", "OAUTHS2S_CLIENT_SECRET", "x-api-key", "X_API_KEY", "apiKey",
     "access_token", "refreshToken", "authorization", "Authorization", "password",
     "db_passwd", "cookie", "Set-Cookie", "IMS_OAUTH_S2S_CLIENT_SECRET",
     "x-require-whisk-auth", "AIO_RUNTIME_AUTH", "AUTH", "oauth_token"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["client_id", "OAUTHS2S_CLIENT_ID", "IMS_ORG_ID", "OAUTHS2S_CECREDENTIALS_METASCOPES",
     "scopes", "org_id", "current", "LOG_LEVEL", "content-type", "x-gw-ims-org-id", 42,
     "IMS_OAUTH_S2S_CLIENT_ID", "oauth_provider"],
)
def test_ordinary_names(name: object) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("name", ["PRIVATE_KEY", "signing-key", "db_passwd", "session_cookie"])
def test_one_word_list_for_the_action_and_the_tools(name: str) -> None:
    # Each of these was caught by only one of the two lists the action and the tools once had.
    assert is_secret_name(name)


def test_redact_hides_secret_named_keys_at_any_depth() -> None:
    value = {
        "client_secret": {"even": "a whole object"},
        "list": [{"token": "t1"}, ({"password": "p"}, "plain"), "text"],
        "deep": {"deeper": {"x-api-key": "k", "keep": [1, 2]}},
        7: "a non-string key",
    }
    assert redact(value) == {
        "client_secret": HIDDEN,
        "list": [{"token": HIDDEN}, [{"password": HIDDEN}, "plain"], "text"],
        "deep": {"deeper": {"x-api-key": HIDDEN, "keep": [1, 2]}},
        7: "a non-string key",
    }


def test_redact_copies_and_leaves_the_original_alone() -> None:
    original = {"headers": {"authorization": "Bearer t"}, "items": [{"secret": "s"}]}
    copy = redact(original)
    assert copy["headers"]["authorization"] == HIDDEN
    assert original == {"headers": {"authorization": "Bearer t"}, "items": [{"secret": "s"}]}


def test_redact_passes_scalars_through() -> None:
    assert redact("client_secret") == "client_secret"
    assert redact(None) is None
    assert redact(3.5) == 3.5


# --- known secret values --------------------------------------------------------------------


def test_known_secrets_are_masked_wherever_they_appear() -> None:
    secrets = KnownSecrets()
    secrets.add("p8e-secret-value")
    secrets.add("eyJ.token.value")
    text = "sent p8e-secret-value, got eyJ.token.value twice: eyJ.token.value"
    assert secrets.mask(text) == f"sent {HIDDEN}, got {HIDDEN} twice: {HIDDEN}"


def test_short_and_non_string_values_are_not_remembered() -> None:
    secrets = KnownSecrets()
    for value in ("", "abc", "x" * (KnownSecrets.MIN_LENGTH - 1), 1234567, None, b"bytes-value"):
        secrets.add(value)
    text = f"abc {'x' * (KnownSecrets.MIN_LENGTH - 1)} 1234567 None bytes-value"
    assert secrets.mask(text) == text
    secrets.add("y" * KnownSecrets.MIN_LENGTH)
    assert secrets.mask("y" * KnownSecrets.MIN_LENGTH) == HIDDEN


def test_a_secret_containing_another_is_masked_whole() -> None:
    secrets = KnownSecrets()
    secrets.add("abcdef")
    secrets.add("XYZabcdef")
    secrets.add("abcdefUVW")
    masked = secrets.mask("one XYZabcdef two abcdefUVW three abcdef")
    assert masked == f"one {HIDDEN} two {HIDDEN} three {HIDDEN}"


def test_known_secrets_are_bounded_oldest_forgotten_first() -> None:
    secrets = KnownSecrets()
    values = [f"secret-{i:04d}" for i in range(KnownSecrets.MAX_ENTRIES + 1)]
    for value in values:
        secrets.add(value)
    assert secrets.mask(values[0]) == values[0]  # the oldest fell out
    assert all(secrets.mask(value) == HIDDEN for value in values[1:])


def test_adding_again_makes_a_secret_recent() -> None:
    secrets = KnownSecrets()
    values = [f"secret-{i:04d}" for i in range(KnownSecrets.MAX_ENTRIES)]
    for value in values:
        secrets.add(value)
    secrets.add(values[0])  # seen again: the client secret on every warm invocation
    secrets.add("one-more-token")
    assert secrets.mask(values[0]) == HIDDEN
    assert secrets.mask(values[1]) == values[1]


def test_secret_values_are_found_at_any_depth() -> None:
    params = {
        "OAUTHS2S_CLIENT_SECRET": "top-secret-1",
        "OAUTHS2S_CLIENT_ID": "not-secret",
        "__ims_oauth_s2s": {"client_id": "id", "client_secret": "nested-secret-2"},
        "list": [{"api_key": "listed-key-3"}, "plain"],
        "token_count": 3,  # a secret-named key, but no string to mask
    }
    assert list(secret_values(params)) == ["top-secret-1", "nested-secret-2", "listed-key-3"]



# --- every spelling of a known secret ------------------------------------------------------------

SPELLED = 'p8e-"quoted"\\back\\slash-grüße-€-😀 and+plus/slash'


def encoded(value: str) -> dict[str, str]:
    """The spellings a log line, an answer or a URL gives ``value``, each by the encoder that
    makes it (not by the code under test)."""
    data = value.encode()
    json_ascii, json_unicode = json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]
    return {
        "raw": value,
        "JSON, ASCII escapes": json_ascii,
        "JSON, unicode kept": json_unicode,
        "JSON twice (a JSON string in a JSON log line)": json.dumps(json_ascii)[1:-1],
        "JSON twice, unicode kept": json.dumps(json_unicode, ensure_ascii=False)[1:-1],
        "URL, quote": urllib.parse.quote(value),
        "URL, quote with safe=''": urllib.parse.quote(value, safe=""),
        "URL, quote_plus (forms)": urllib.parse.quote_plus(value),
        "URL, as encodeURIComponent": urllib.parse.quote(value, safe="!'()*"),
        "base64": base64.b64encode(data).decode(),
        "base64url": base64.urlsafe_b64encode(data).decode(),
    }


@pytest.mark.parametrize("spelling", list(encoded(SPELLED)))
def test_every_spelling_of_a_known_secret_is_masked(spelling: str) -> None:
    secrets = KnownSecrets()
    secrets.add(SPELLED)
    text = encoded(SPELLED)[spelling]
    masked = secrets.mask(f"before {text} after")
    assert masked == f"before {HIDDEN} after"


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc"])
@pytest.mark.parametrize("suffix", [b"", b"x", b"xy"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_of_a_secret_inside_longer_data_is_masked_at_every_alignment(
        prefix: bytes, suffix: bytes, encode: Any) -> None:
    """``Basic base64(user:secret)``: the secret starts at any byte offset of the data."""
    secrets = KnownSecrets()
    secrets.add(SPELLED)
    text = encode(prefix + SPELLED.encode() + suffix).decode()
    masked = secrets.mask(text)
    assert HIDDEN in masked
    # What is left shows at most the bits the secret shares with a neighbouring byte.
    assert len(masked.replace(HIDDEN, "")) <= len(encode(prefix + suffix)) + 4


def test_a_short_secret_has_no_spelling_shorter_than_the_minimum() -> None:
    assert min(map(len, spellings("abcdef", KnownSecrets.MIN_LENGTH))) >= KnownSecrets.MIN_LENGTH
    secrets = KnownSecrets()
    secrets.add("abcdef")
    assert secrets.mask("YWJj and abc") == "YWJj and abc"  # no fragment of it is masked


@pytest.mark.usefixtures("project_log_levels")
def test_the_log_formatter_masks_every_spelling_before_and_after_encoding(
        capsys: pytest.CaptureFixture[str]) -> None:
    log.configure()
    known_secrets.add(SPELLED)
    logger = logging.getLogger("lib.test_redact")
    spelled = encoded(SPELLED)
    logger.info("as is %s, in JSON %s, in a URL %s, in base64 %s", SPELLED,
                spelled["JSON, ASCII escapes"], spelled["URL, quote_plus (forms)"],
                spelled["base64"], extra=log.fields(echo=SPELLED, body={"text": SPELLED}))
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == (f"as is {HIDDEN}, in JSON {HIDDEN}, in a URL {HIDDEN}, "
                                f"in base64 {HIDDEN}")
    assert entry["echo"] == HIDDEN  # a field, escaped by the encoding of the line
    assert entry["body"] == {"text": HIDDEN}
    for text in spellings(SPELLED):
        assert text not in line


def test_spellings_count_against_the_bound() -> None:
    secrets = KnownSecrets()
    for index in range(KnownSecrets.MAX_ENTRIES):
        secrets.add(f"{index:04d}-" + "😀" * 2_000)  # 12 characters a spelling, in JSON
    assert secrets._chars <= KnownSecrets.MAX_CHARS
    assert len(secrets) < KnownSecrets.MAX_ENTRIES
    newest = f"{KnownSecrets.MAX_ENTRIES - 1:04d}-" + "😀" * 2_000
    assert secrets.mask(json.dumps(newest)) == f'"{HIDDEN}"'
