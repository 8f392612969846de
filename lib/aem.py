"""The AEM Data Service statistics API: content-requests quota."""

from __future__ import annotations

import logging
from typing import Any

from lib import http
from lib.deadline import Deadline
from lib.errors import TokenRejected, UpstreamError, UpstreamNotFound
from lib.redact import known_secrets

log = logging.getLogger(__name__)

QUOTA_PATH = "/adobe/stats/statistics/contentRequestsQuota"
_NOT_JSON = object()
_ERRORS: http.StatusErrors = {
    401: (TokenRejected, "AEM rejected the access token"),
    403: (UpstreamError, "AEM refused access for these credentials"),
    404: (UpstreamNotFound, "AEM found no content-requests quota for this org"),
}


def content_requests_quota(
    base_url: str,
    *,
    org_id: str,
    client_id: str,
    access_token: str,
    current: bool,
    deadline: Deadline,
) -> Any:
    """The quota JSON, passed through as AEM sends it (its schema is not public)."""
    answer = http.request(
        "GET",
        base_url.rstrip("/") + QUOTA_PATH,
        service="AEM",
        deadline=deadline,
        params={"imsOrgId": org_id, "current": "true" if current else "false"},
        headers={
            "Accept": "application/json",
            "X-Adobe-Accept-Experimental": "1",
            "x-gw-ims-org-id": org_id,
            "X-Api-Key": client_id,
            "Authorization": f"Bearer {access_token}",
        },
    )
    body = answer.json_or(_NOT_JSON)
    answer.raise_for_status("AEM", errors=_ERRORS, details=_problem(answer.status, body))
    if body is _NOT_JSON:
        raise UpstreamError(f"AEM answered {answer.status} with a body that is not JSON")
    return body


def _problem(status: int, body: Any) -> dict[str, Any]:
    """The upstream status and the RFC 7807 problem's title and detail, when AEM sent one."""
    upstream: dict[str, Any] = {"status": status}
    if isinstance(body, dict):
        for key in ("title", "detail"):
            if isinstance(body.get(key), str):
                upstream[key] = known_secrets.mask(body[key])[:500]
    return {"upstream": upstream}
