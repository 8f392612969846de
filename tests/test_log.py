"""lib.log: App Builder level names, one JSON object a line on stderr, secrets masked."""

from __future__ import annotations

import json
import logging
import re

import pytest

from lib import log
from lib.redact import HIDDEN, known_secrets

SECRET = "p8e-log-test-secret-0123456789"
# A secret whose JSON form differs from its text: the log line is JSON, so both must be masked.
ESCAPED_SECRET = 'p8e-"quoted"\\back\\slash'


pytestmark = pytest.mark.usefixtures("project_log_levels")


def json_lines(text: str) -> list[dict[str, object]]:
    """Every stderr line must be one JSON object."""
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("name", "level"),
    [("error", logging.ERROR), ("warn", logging.WARNING), ("info", logging.INFO),
     ("verbose", log.VERBOSE), ("debug", logging.DEBUG), ("silly", logging.DEBUG),
     ("warning", logging.WARNING), (" DEBUG ", logging.DEBUG), ("Verbose", log.VERBOSE)],
)
def test_app_builder_level_names(name: str, level: int) -> None:
    assert log.parse_level(name) == level


def test_verbose_sits_between_debug_and_info() -> None:
    assert logging.DEBUG < log.VERBOSE < logging.INFO
    assert logging.getLevelName(log.VERBOSE) == "VERBOSE"
    assert log.parse_level(log.DEFAULT_LEVEL) == logging.INFO


@pytest.mark.parametrize("name", ["trace", "", "fatal", None, 10, ["debug"]])
def test_unknown_level_names_the_accepted_ones(name: object) -> None:
    with pytest.raises(ValueError, match=r"LOG_LEVEL must be one of error, warn, .*debug"):
        log.parse_level(name)


def test_records_are_json_lines_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure(logging.INFO)
    logging.getLogger("lib.test_log").info("hello %s", "world", extra=log.fields(attempt=2))
    captured = capsys.readouterr()
    assert captured.out == ""
    [entry] = json_lines(captured.err)
    assert entry["message"] == "hello world"
    assert entry["level"] == "info"
    assert entry["logger"] == "lib.test_log"
    assert entry["attempt"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(entry["time"]))
    assert "activation_id" not in entry


def test_level_filters_and_names_each_line(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("actions.test_log")
    log.configure(log.parse_level("verbose"))
    logger.debug("not shown")
    logger.log(log.VERBOSE, "verbose shown")
    logger.warning("warning shown")
    log.configure(log.parse_level("error"))
    logger.warning("not shown either")
    logger.error("error shown")
    entries = json_lines(capsys.readouterr().err)
    assert [(e["level"], e["message"]) for e in entries] == [
        ("verbose", "verbose shown"), ("warning", "warning shown"), ("error", "error shown")]


def test_configure_every_invocation_does_not_repeat_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(3):
        log.configure(logging.INFO)
    logging.getLogger("lib.test_log").info("once")
    assert len(json_lines(capsys.readouterr().err)) == 1


def test_activation_id_is_a_field_when_deployed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("__OW_ACTIVATION_ID", "0123abcd")
    log.configure(logging.INFO)
    logging.getLogger("lib.test_log").info("deployed")
    [entry] = json_lines(capsys.readouterr().err)
    assert entry["activation_id"] == "0123abcd"


def test_known_secrets_are_masked_in_messages_fields_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    known_secrets.add(SECRET)
    log.configure(logging.DEBUG)
    logger = logging.getLogger("lib.test_log")
    logger.debug("secret is %s", SECRET, extra=log.fields(echo={"nested": SECRET}))
    try:
        raise RuntimeError(f"failed while sending {SECRET}")
    except RuntimeError:
        logger.exception("request failed")
    err = capsys.readouterr().err
    assert SECRET not in err
    message, failure = json_lines(err)
    assert message["message"] == f"secret is {HIDDEN}"
    assert message["echo"] == {"nested": HIDDEN}
    assert failure["message"] == "request failed"
    assert "RuntimeError: failed while sending " + HIDDEN in str(failure["exception"])
    assert "Traceback" in str(failure["exception"])


def test_secrets_that_json_escapes_are_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    known_secrets.add(ESCAPED_SECRET)
    log.configure(logging.INFO)
    logger = logging.getLogger("lib.test_log")
    logger.info("secret is %s", ESCAPED_SECRET)
    try:
        raise ValueError(ESCAPED_SECRET)
    except ValueError:
        logger.exception("failed")
    err = capsys.readouterr().err
    assert json.dumps(ESCAPED_SECRET)[1:-1] not in err
    message, failure = json_lines(err)
    assert message["message"] == f"secret is {HIDDEN}"
    assert ESCAPED_SECRET not in str(failure["exception"])
    assert f"ValueError: {HIDDEN}" in str(failure["exception"])
