"""The generic action: an org's AEM content-requests quota, read with OAuth S2S credentials.

The Python counterpart of Adobe's App Builder tutorial action (KT-14724):
validated inputs, one cached IMS token across warm invocations, and an
App Builder-shaped web response for every outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lib import (
    AdobeEndpoints,
    AdobeIdentity,
    Deadline,
    boolean_param,
    identity_from_params,
    success_response,
    web_action,
    with_token,
)
from lib.aem import content_requests_quota


class QuotaRequest(NamedTuple):
    identity: AdobeIdentity
    current: bool

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QuotaRequest:
        return cls(identity_from_params(params), boolean_param(params, "current", default=True))


@web_action
def main(params: Mapping[str, Any]) -> dict[str, Any]:
    """OpenWhisk's entry point: the quota as a web response, or the failure's error response."""
    request = QuotaRequest.from_params(params)
    endpoints = AdobeEndpoints.from_env()
    deadline = Deadline.from_env()
    identity = request.identity

    def read_quota(access_token: str) -> Any:
        return content_requests_quota(
            endpoints.aem_base_url,
            org_id=identity.org_id,
            client_id=identity.credentials.client_id,
            access_token=access_token,
            current=request.current,
            deadline=deadline,
        )

    quota = with_token(endpoints.ims_token_url, identity.credentials, deadline, read_quota)
    return success_response(quota)
