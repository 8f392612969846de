"""What the shared token store holds, and why someone who reads it learns nothing.

An entry's name is an HMAC-SHA256, under the client secret, of the token URL,
the client id and the scopes: it names neither the client nor the org, and only
a caller holding the secret can compute it. Its value is the token and its
expiry sealed with AES-GCM under a key derived from the client secret
(HKDF-SHA256), the entry's name as associated data, so a value copied to
another name, altered or sealed under another secret does not open. What does
not open is treated as absent, and replaced.

Imported only when a store is configured: it needs ``cryptography``, which the
OpenWhisk Python image carries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "ims-token:"  # every key the store writes starts so (an ACL can be scoped to it)
LOCK_SUFFIX = ":lock"
FORMAT = b"\x01"  # the first byte of a sealed value: how the rest is laid out
_NONCE_BYTES = 12
_KEY_INFO = b"ow-adobe-s2s token store v1: AES-256-GCM key"


def entry_name(client_secret: str, client_id: str, scopes: tuple[str, ...],
               token_url: str) -> str:
    """The entry's key in Redis: the same for every container holding these credentials."""
    message = "\0".join((token_url, client_id, ",".join(sorted(scopes)))).encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()
    return PREFIX + digest


def lock_name(name: str) -> str:
    """The key of the short lock that lets one container of the fleet mint for ``name``."""
    return name + LOCK_SUFFIX


def seal(client_secret: str, name: str, token: str, expires_at: float) -> bytes:
    """The token and its expiry (epoch seconds), encrypted and bound to ``name``."""
    plain = json.dumps({"token": token, "expires_at": expires_at}).encode()
    nonce = os.urandom(_NONCE_BYTES)
    return FORMAT + nonce + _cipher(client_secret).encrypt(nonce, plain, name.encode())


def unseal(client_secret: str, name: str, value: bytes) -> tuple[str, float] | None:
    """The token and its expiry, or None when ``value`` is not one this secret sealed for
    ``name`` (tampered, moved, truncated, another secret's, another format)."""
    if not value.startswith(FORMAT) or len(value) <= len(FORMAT) + _NONCE_BYTES:
        return None
    nonce = value[len(FORMAT):len(FORMAT) + _NONCE_BYTES]
    try:
        plain = _cipher(client_secret).decrypt(nonce, value[len(FORMAT) + _NONCE_BYTES:],
                                               name.encode())
        entry = json.loads(plain)
        token, expires_at = entry["token"], entry["expires_at"]
    except (InvalidTag, ValueError, TypeError, KeyError):
        return None
    if not isinstance(token, str) or not token or isinstance(expires_at, bool) \
            or not isinstance(expires_at, (int, float)):
        return None
    return token, float(expires_at)


def _cipher(client_secret: str) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        client_secret.encode())
    return AESGCM(key)
