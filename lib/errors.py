"""The failures an action answers, each with the HTTP status a caller can act on.

Raise one of these anywhere below an action's ``main``; the action turns it
into a web response with :meth:`ActionError.to_response`.
"""

from __future__ import annotations

import math
from typing import Any

from lib.web import error_response


class ActionError(Exception):
    """A failure with a status, a message safe to show, and optional details."""

    status = 500

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def to_response(self) -> dict[str, Any]:
        return error_response(self.status, self.message, self.details, self.headers)


class BadRequest(ActionError):
    """The invocation's parameters are missing or invalid."""

    status = 400


class ConfigurationError(ActionError):
    """The deployment is wrong (an endpoint not allowed, say): nothing the caller can fix."""

    status = 500


class UpstreamError(ActionError):
    """An Adobe service failed, refused our credentials, or answered something unreadable."""

    status = 502


class UpstreamTimeout(ActionError):
    """An Adobe service did not answer within the time the activation had left."""

    status = 504


class UpstreamNotFound(ActionError):
    status = 404


class UpstreamRateLimited(ActionError):
    """An Adobe service throttled us; ``Retry-After`` tells the caller when to come back."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = None if retry_after is None else math.ceil(retry_after)
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        super().__init__(message, headers=headers, **kwargs)


class TokenRejected(UpstreamError):
    """The API answered 401 to our access token: it may have been revoked or expired early."""


class CredentialsRejected(UpstreamError):
    """IMS refused the client credentials; asking again with the same ones will not help."""
