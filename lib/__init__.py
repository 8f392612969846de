"""What an action imports: call Adobe APIs with OAuth Server-to-Server credentials.

Everything an action author needs is here; modules whose name starts with ``_``
are internals, and :mod:`lib.redact` (the masking the tools share) is public.
An action is one decorated function::

    from lib import (AdobeEndpoints, Deadline, TokenRejected, identity_from_params, request,
                     success_response, web_action, with_token)

    @web_action  # logging, redacted params, and every failure answered with its status
    def main(params):
        identity = identity_from_params(params)  # 400 naming what is missing
        endpoints, deadline = AdobeEndpoints.from_env(), Deadline.from_env()

        def call(token: str):
            answer = request("GET", "https://example.adobe.io/thing", service="Thing",
                             deadline=deadline, headers={"Authorization": f"Bearer {token}"})
            # 401 -> a new token and one more try; 429 passed on with Retry-After; else 502
            answer.raise_for_status("Thing", errors={401: (TokenRejected, "token refused")})
            return answer.json_or(None)

        return success_response(with_token(endpoints.ims_token_url, identity.credentials,
                                           deadline, call))  # a cached token

It imports only ``requests`` and the standard library, as the OpenWhisk Python
image provides them.
"""

from lib.credentials import AdobeIdentity, identity_from_params
from lib.deadline import Deadline
from lib.endpoints import AdobeEndpoints
from lib.entry_point import web_action
from lib.errors import (
    ActionError,
    BadRequest,
    ConfigurationError,
    CredentialsRejected,
    TokenRejected,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from lib.http import Answer, RetryPolicy, request
from lib.ims import S2SCredentials, get_token, with_token
from lib.params import (
    bearer_token,
    boolean_param,
    is_missing,
    lookup,
    missing_inputs_message,
    redacted_params,
)
from lib.web import error_response, success_response

__all__ = [
    "ActionError",
    "AdobeEndpoints",
    "AdobeIdentity",
    "Answer",
    "BadRequest",
    "ConfigurationError",
    "CredentialsRejected",
    "Deadline",
    "RetryPolicy",
    "S2SCredentials",
    "TokenRejected",
    "UpstreamError",
    "UpstreamNotFound",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "bearer_token",
    "boolean_param",
    "error_response",
    "get_token",
    "identity_from_params",
    "is_missing",
    "lookup",
    "missing_inputs_message",
    "redacted_params",
    "request",
    "success_response",
    "web_action",
    "with_token",
]
