"""The shared token store's parts against a real redis-server: sealing, the client's back-off,
the lock, an ACL user limited to what the store needs, and the inputs it refuses."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from lib import _store_client
from lib._shared_tokens import SharedTokens
from lib._store_client import StoreClient
from lib._token_cache import TokenGrant
from lib._token_seal import PREFIX, entry_name, lock_name, seal, unseal
from lib.credentials import identity_from_params
from lib.deadline import Deadline
from lib.errors import BadRequest
from lib.ims import S2SCredentials
from tests.deploy_support import REPO
from tests.redis_support import RedisServer, misbehaving_store, redis_server  # noqa: F401

SECRET = "client-secret-for-the-store-tests"
CREDENTIALS = S2SCredentials("store-client-id", SECRET, ("openid", "AdobeID"))
TOKEN_URL = "http://127.0.0.1:1/ims/token/v3"


@pytest.fixture
def store(redis_server: RedisServer) -> RedisServer:  # noqa: F811
    with redis_server.client() as client:
        client.flushall()
    return redis_server


def _minter(tokens: list[str]):
    def mint() -> TokenGrant:
        tokens.append(f"token-{len(tokens)}-" + "x" * 20)
        return TokenGrant(tokens[-1], 86399)
    return mint


# --- what is stored -------------------------------------------------------------------------

def test_the_key_names_neither_the_client_nor_the_scopes_and_depends_on_the_secret() -> None:
    name = entry_name(SECRET, "my-client", ("openid",), TOKEN_URL)

    assert name.startswith(PREFIX)
    assert "my-client" not in name
    assert "openid" not in name
    assert name != entry_name("another-secret", "my-client", ("openid",), TOKEN_URL)
    assert name == entry_name(SECRET, "my-client", ("openid",), TOKEN_URL)


def test_a_sealed_value_opens_only_with_its_secret_under_its_name() -> None:
    name = entry_name(SECRET, "c", ("s",), TOKEN_URL)
    value = seal(SECRET, name, "the-access-token", 1e10)

    assert b"the-access-token" not in value
    assert unseal(SECRET, name, value) == ("the-access-token", 1e10)
    assert unseal("another-secret", name, value) is None
    assert unseal(SECRET, name + "0", value) is None  # moved to another key
    flipped = value[:-1] + bytes([value[-1] ^ 1])
    assert unseal(SECRET, name, flipped) is None
    assert unseal(SECRET, name, value[:10]) is None
    assert unseal(SECRET, name, b"") is None


# --- the fleet's single flight and revocation, in one process ---------------------------------

def test_a_token_minted_once_is_served_to_the_next_container(store: RedisServer) -> None:
    tokens: list[str] = []
    first = SharedTokens(StoreClient(store.url())).fetch(
        TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))
    second = SharedTokens(StoreClient(store.url())).fetch(
        TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))

    assert second.value == first.value == tokens[0]
    assert len(tokens) == 1
    assert 86000 < second.lifetime <= 86399
    with store.client() as client:
        ttl = client.pttl(entry_name(SECRET, CREDENTIALS.client_id, CREDENTIALS.scopes,
                                     TOKEN_URL))
    assert 86399_000 - 300_000 - 5_000 < ttl <= 86399_000 - 300_000  # its early-refresh point


def test_a_lock_is_released_by_its_owner_only(store: RedisServer) -> None:
    client = StoreClient(store.url())
    name = lock_name(entry_name(SECRET, "c", ("s",), TOKEN_URL))

    assert client.add(name, b"owner-a", 10_000)
    assert not client.add(name, b"owner-b", 10_000)
    assert not client.delete_if(name, b"owner-b")
    assert client.delete_if(name, b"owner-a")
    assert client.add(name, b"owner-b", 10_000)


def test_a_waiter_mints_itself_when_the_lock_holder_never_shares(store: RedisServer) -> None:
    name = entry_name(SECRET, CREDENTIALS.client_id, CREDENTIALS.scopes, TOKEN_URL)
    StoreClient(store.url()).add(lock_name(name), b"a-container-that-died", 10_000)
    tokens: list[str] = []

    grant = SharedTokens(StoreClient(store.url()), max_wait=0.2).fetch(
        TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))

    assert grant.value == tokens[0]
    with store.client() as client:
        assert client.get(name) is not None  # shared even so


def test_a_rejected_token_is_dropped_only_while_the_store_still_holds_it(
        store: RedisServer) -> None:
    tokens: list[str] = []
    container = SharedTokens(StoreClient(store.url()))
    other = SharedTokens(StoreClient(store.url()))
    first = container.fetch(TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))
    other.fetch(TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))

    other.discard(TOKEN_URL, CREDENTIALS, first.value)  # the other container renews ...
    renewed = other.fetch(TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))
    container.discard(TOKEN_URL, CREDENTIALS, first.value)  # ... this one's 401 comes late

    assert renewed.value == tokens[1]
    assert container.fetch(TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens)).value \
        == tokens[1]
    assert len(tokens) == 2


def test_an_acl_user_with_only_get_set_del_eval_on_the_prefix_is_enough(
        store: RedisServer) -> None:
    with store.client() as admin:
        admin.acl_setuser("tokens", enabled=True, passwords=["+acl-user-password"],
                          keys=[f"{PREFIX}*"], commands=["+get", "+set", "+del", "+eval"],
                          reset_keys=True, reset_channels=True)
    url = store.url(user="tokens", password="acl-user-password")
    tokens: list[str] = []

    shared = SharedTokens(StoreClient(url))
    grant = shared.fetch(TOKEN_URL, CREDENTIALS, Deadline(), _minter(tokens))
    shared.discard(TOKEN_URL, CREDENTIALS, grant.value)

    assert shared.client.available  # no command was refused
    with store.client() as admin:
        assert admin.keys("*") == []  # the lock released, the rejected token dropped


# --- a store that fails ---------------------------------------------------------------------

def test_a_failing_store_warns_once_and_is_left_alone_while_backing_off(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = [1000.0]
    with misbehaving_store("refused") as url:
        client = StoreClient(url, clock=lambda: clock[0])
        with caplog.at_level(logging.WARNING, logger="lib"):
            assert client.get("ims-token:x") is None
            assert not client.available
            assert client.put("ims-token:x", b"v", 1000) is False
            clock[0] += _store_client.BACKOFF_SECONDS
            assert client.available
            assert client.get("ims-token:x") is None

    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 2  # one per failure, none while backing off
    assert warnings[0].fields["store"].startswith("redis://127.0.0.1:")
    assert "pw-refused-store" not in caplog.text


def test_without_cryptography_the_store_is_disabled_and_nothing_is_written(
        store: RedisServer) -> None:
    code = ("import sys; sys.modules['cryptography'] = None  # as if the image had none\n"
            "import lib.log; lib.log.configure()\n"
            "from lib._store_env import shared_store; print(shared_store())\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=False, env={"IMS_TOKEN_STORE_URL": store.url()},
                          timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
    [warning] = [json.loads(line) for line in done.stderr.splitlines()]
    assert warning["missing_module"] == "cryptography"
    assert store.password not in done.stderr
    with store.client() as client:
        assert client.keys("*") == []


# --- where the store URL may come from -------------------------------------------------------

def test_a_request_can_never_name_the_store() -> None:
    params = {"OAUTHS2S_CLIENT_ID": "c", "OAUTHS2S_CLIENT_SECRET": SECRET,
              "OAUTHS2S_CECREDENTIALS_METASCOPES": "openid", "IMS_ORG_ID": "o@AdobeOrg",
              "IMS_TOKEN_STORE_URL": "redis://evil.example:6379/0"}

    with pytest.raises(BadRequest, match="IMS_TOKEN_STORE_URL"):
        identity_from_params(params, environ={})
    with pytest.raises(BadRequest, match="IMS_TOKEN_STORE_URL"):
        identity_from_params(params, environ={"IMS_TOKEN_STORE_URL": "redis://ok:6379/0"})
