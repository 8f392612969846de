"""The generic action: an org's AEM content-requests quota, read with OAuth S2S credentials.

The Python counterpart of Adobe's App Builder tutorial action (KT-14724):
validated inputs, one cached IMS token across warm invocations, and an
App Builder-shaped web response for every outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib import aem, ims
from lib import log as action_log
from lib.credentials import AdobeIdentity, identity_from_params
from lib.deadline import Deadline
from lib.endpoints import AdobeEndpoints
from lib.errors import ActionError, BadRequest
from lib.params import boolean_param, redacted_params
from lib.web import error_response, success_response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuotaRequest:
    identity: AdobeIdentity
    current: bool

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QuotaRequest:
        return cls(identity_from_params(params), boolean_param(params, "current", default=True))


def main(params: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk's entry point. Answers a web response for every outcome and never raises."""
    try:
        return _quota(params)
    except ActionError as exc:
        log.warning("request failed: %s", exc.message,
                    extra=action_log.fields(status=exc.status, **exc.details))
        return exc.to_response()
    except Exception:
        log.exception("unexpected error")
        return error_response(500, "internal error; the activation log has the details")


def _quota(params: Any) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise BadRequest("parameters must be a JSON object")
    _configure_logging(params)
    log.debug("parameters: %s", redacted_params(params))
    request = QuotaRequest.from_params(params)
    endpoints = AdobeEndpoints.from_env()
    deadline = Deadline.from_env()
    identity = request.identity

    def read_quota(access_token: str) -> Any:
        return aem.content_requests_quota(
            endpoints.aem_base_url,
            org_id=identity.org_id,
            client_id=identity.credentials.client_id,
            access_token=access_token,
            current=request.current,
            deadline=deadline,
        )

    quota = ims.with_token(endpoints.ims_token_url, identity.credentials, deadline, read_quota)
    return success_response(quota)


def _configure_logging(params: Mapping[str, Any]) -> None:
    name = params.get("LOG_LEVEL") or action_log.DEFAULT_LEVEL
    try:
        level = action_log.parse_level(name)
    except ValueError as exc:
        action_log.configure(action_log.parse_level(action_log.DEFAULT_LEVEL))
        raise BadRequest(str(exc)) from None
    action_log.configure(level)
