"""What every web action's ``main`` must do, in one place.

OpenWhisk turns an uncaught exception into ``{"error": "<text>"}``, which a web
action serves as an opaque 400; App Builder's template answers every failure
with a bare 500. :func:`web_action` makes a handler an entry point that sets up
logging from ``LOG_LEVEL``, logs the parameters redacted at debug, and answers
every failure with its own status, so ``main`` never raises. The secret values
an invocation uses (client secret, tokens) stay in the masking list until it
ends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from lib import log as action_log
from lib.errors import ActionError, BadRequest
from lib.params import redacted_params
from lib.redact import known_secrets
from lib.web import error_response

Handler = Callable[[Mapping[str, Any]], dict[str, Any]]


def web_action(handler: Handler) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Wrap ``handler(params) -> web response`` as an OpenWhisk ``main``."""
    log = logging.getLogger(handler.__module__)

    @functools.wraps(handler)
    def main(params: dict[str, Any]) -> dict[str, Any]:
        # The secrets and tokens this invocation uses stay masked until it ends.
        with known_secrets.in_use():
            return _answer(params)

    def _answer(params: dict[str, Any]) -> dict[str, Any]:
        try:
            if not isinstance(params, Mapping):
                raise BadRequest("parameters must be a JSON object")
            configure_logging(params)
            if log.isEnabledFor(logging.DEBUG):  # the redacted copy costs; make it only if logged
                log.debug("parameters: %s", redacted_params(params))
            return handler(params)
        except ActionError as exc:
            log.warning("request failed: %s", exc.message,
                        extra=action_log.fields(status=exc.status, **exc.details))
            return exc.to_response()
        except Exception:
            log.exception("unexpected error")
            return error_response(500, "internal error; the activation log has the details")

    return main


def configure_logging(params: Mapping[str, Any]) -> None:
    """Log at the invocation's ``LOG_LEVEL`` (default info); BadRequest for an unknown level."""
    name = params.get("LOG_LEVEL") or action_log.DEFAULT_LEVEL
    try:
        level = action_log.parse_level(name)
    except ValueError as exc:
        action_log.configure(action_log.parse_level(action_log.DEFAULT_LEVEL))
        raise BadRequest(str(exc)) from None
    action_log.configure(level)
