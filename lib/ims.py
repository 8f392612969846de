"""Adobe IMS OAuth Server-to-Server tokens, cached across warm invocations."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from lib import http
from lib._store_env import preload, shared_store
from lib._token_cache import Token, TokenCache, TokenGrant
from lib.deadline import Deadline
from lib.errors import CredentialsRejected, TokenRejected, UpstreamError, UpstreamRateLimited
from lib.log import fields
from lib.redact import known_secrets

log = logging.getLogger(__name__)

T = TypeVar("T")


class S2SCredentials(NamedTuple):
    """An OAuth Server-to-Server credential from the Adobe Developer Console."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return (f"S2SCredentials(client_id={self.client_id!r}, client_secret=<hidden>, "
                f"scopes={self.scopes!r})")

    def cache_key(self, token_url: str) -> tuple[str, str, str, tuple[str, ...]]:
        """Identifies a token without holding the secret itself."""
        secret_hash = hashlib.sha256(self.client_secret.encode()).hexdigest()
        return token_url, self.client_id, secret_hash, tuple(sorted(self.scopes))


# One cache per process: warm invocations of any action here share it.
token_cache = TokenCache()


# A refresh while the cached token still serves: one attempt, no waiting.
QUICK_REFRESH = http.RetryPolicy(retries=0)

preload()  # the shared token store's modules, only when IMS_TOKEN_STORE_URL is set


def request_token(
    token_url: str,
    credentials: S2SCredentials,
    deadline: Deadline,
    policy: http.RetryPolicy = http.DEFAULT_POLICY,
) -> TokenGrant:
    """Ask IMS for a new token with the client_credentials grant."""
    known_secrets.add(credentials.client_secret)  # from here on, masked in every log line
    answer = http.request(
        "POST",
        token_url,
        service="IMS",
        deadline=deadline,
        policy=policy,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "scope": ",".join(credentials.scopes),
        },
        headers={"Accept": "application/json"},
    )
    debug = _debug_details(answer)
    body = answer.json_or(None)
    details = {**_oauth_error(body), **debug}
    rejected = f"IMS rejected the credentials: {details.get('ims_error', f'HTTP {answer.status}')}"
    answer.raise_for_status("IMS", details=details, errors={
        **dict.fromkeys((400, 401, 403), (CredentialsRejected, rejected)),
        429: (UpstreamRateLimited, "IMS is throttling token requests"),
    })
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise UpstreamError(f"IMS answered {answer.status} without an access token",
                            details=debug)
    known_secrets.add(token)
    lifetime = _lifetime(body.get("expires_in"))
    log.info("IMS token minted", extra=fields(expires_in=lifetime, **debug))
    return TokenGrant(token, lifetime)


def get_token(token_url: str, credentials: S2SCredentials, deadline: Deadline) -> Token:
    """The container's cached token; on a miss, the fleet's (IMS_TOKEN_STORE_URL), else IMS's."""
    key = credentials.cache_key(token_url)

    def fetch(has_fallback: bool) -> TokenGrant:
        def mint() -> TokenGrant:
            return request_token(token_url, credentials, deadline,
                                 QUICK_REFRESH if has_fallback else http.DEFAULT_POLICY)

        store = shared_store()
        return mint() if store is None else store.fetch(token_url, credentials, deadline, mint)

    token = token_cache.get(key, fetch)
    if token.from_cache:
        log.debug("IMS token from cache")
    return token


def with_token(
    token_url: str,
    credentials: S2SCredentials,
    deadline: Deadline,
    call: Callable[[str], T],
) -> T:
    """``call(access_token)``; when the API answers 401, once more with a new token."""
    token = get_token(token_url, credentials, deadline)
    try:
        return call(token.value)
    except TokenRejected:
        log.info("access token rejected; fetching a new one and retrying once")
        token_cache.invalidate(credentials.cache_key(token_url), token.value)
        store = shared_store()
        if store is not None:
            store.discard(token_url, credentials, token.value)
        return call(get_token(token_url, credentials, deadline).value)


def _lifetime(expires_in: Any) -> float | None:
    """``expires_in`` in seconds, or None when it is missing or not a number."""
    if isinstance(expires_in, bool):
        return None
    try:
        value = float(expires_in)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _oauth_error(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {}
    found = {
        "ims_error": body.get("error"),
        "ims_error_description": body.get("error_description"),
    }
    return {k: known_secrets.mask(v)[:500] for k, v in found.items() if isinstance(v, str)}


def _debug_details(answer: http.Answer) -> dict[str, str]:
    debug_id = answer.headers.get("x-debug-id")
    return {"x_debug_id": debug_id} if debug_id else {}
