"""The shared token store across cold containers: each one a fresh interpreter (bench.container,
or the built zip run as the OpenWhisk runtime runs it) that imports the action and invokes it
once, against the IMS/AEM emulator and a real, password-protected redis-server on loopback."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from bench.fleet import cold_containers, container_env
from lib._token_seal import entry_name, unseal
from tests.deploy_support import REPO, run_like_openwhisk
from tests.redis_support import RedisServer, misbehaving_store, redis_server  # noqa: F401
from tools.manifest import load_manifest
from tools.runtimes.python.build import build_zips
from tools.sandbox import AdobeEmulator, Fault


@pytest.fixture
def adobe():
    with AdobeEmulator() as emulator:
        yield emulator


@pytest.fixture
def store(redis_server: RedisServer) -> RedisServer:  # noqa: F811
    with redis_server.client() as client:
        client.flushall()
    return redis_server


def _entry(adobe: AdobeEmulator) -> str:
    return entry_name(adobe.client_secret, adobe.client_id, adobe.scopes, adobe.ims_token_url)


def _bearers(adobe: AdobeEmulator) -> list[str]:
    return [r.headers["authorization"] for r in adobe.requests if r.endpoint == "aem"]


def test_ten_cold_containers_in_a_row_ask_ims_once(adobe: AdobeEmulator,
                                                   store: RedisServer) -> None:
    reports = cold_containers(10, container_env(adobe, store.url()), adobe.params(),
                              at_once=False)

    assert [r.status for r in reports] == [200] * 10
    assert adobe.token_requests == 1
    assert len(set(_bearers(adobe))) == 1


def test_without_the_store_each_cold_container_asks_ims(adobe: AdobeEmulator) -> None:
    reports = cold_containers(3, container_env(adobe), adobe.params(), at_once=False)

    assert [r.status for r in reports] == [200] * 3
    assert adobe.token_requests == 3


def test_twelve_containers_started_at_once_ask_ims_at_most_twice(adobe: AdobeEmulator,
                                                                 store: RedisServer) -> None:
    adobe.queue("ims", *[Fault(delay=0.3)] * 12)  # the first mint is slow: all of them miss

    reports = cold_containers(12, container_env(adobe, store.url()), adobe.params(),
                              at_once=True)

    assert [r.status for r in reports] == [200] * 12
    assert adobe.token_requests <= 2


def test_a_revoked_token_is_replaced_for_the_whole_fleet(adobe: AdobeEmulator,
                                                         store: RedisServer) -> None:
    env = container_env(adobe, store.url())
    cold_containers(1, env, adobe.params(), at_once=False)
    adobe.expire_tokens()  # revoked: AEM now answers 401 to it

    # This container reads the revoked token from the store, gets a 401, mints a new one
    # and drops the shared entry it had read; the next one is served the new token.
    cold_containers(2, env, adobe.params(), at_once=False)

    revoked, retried_with, *later = _bearers(adobe)[1:]
    assert adobe.token_requests == 2
    assert retried_with != revoked
    assert later == [retried_with]
    with store.client() as client:
        sealed = client.get(_entry(adobe))
    assert sealed is not None
    assert unseal(adobe.client_secret, _entry(adobe), sealed)[0] == retried_with.split()[1]


def test_a_tampered_entry_is_ignored_and_replaced(adobe: AdobeEmulator,
                                                  store: RedisServer) -> None:
    with store.client() as client:
        client.set(_entry(adobe), b"\x01" + b"\x00" * 40)

    [report] = cold_containers(1, container_env(adobe, store.url()), adobe.params(),
                               at_once=False)

    assert report.status == 200
    assert adobe.token_requests == 1
    assert "does not open" in report.log
    with store.client() as client:
        assert unseal(adobe.client_secret, _entry(adobe), client.get(_entry(adobe))) is not None


def test_the_store_holds_neither_the_ids_nor_the_token(adobe: AdobeEmulator,
                                                        store: RedisServer) -> None:
    cold_containers(1, container_env(adobe, store.url()), adobe.params(), at_once=False)
    token = _bearers(adobe)[0].split()[1]

    with store.client() as client:
        dump = b"".join(key + (client.get(key) or b"") for key in client.keys("*"))
    for value in (token, adobe.client_id, adobe.org_id, adobe.client_secret):
        assert value.encode() not in dump


@pytest.mark.parametrize("kind", ["refused", "hanging", "garbage"])
def test_a_store_that_does_not_work_never_fails_a_call(adobe: AdobeEmulator, kind: str) -> None:
    with misbehaving_store(kind) as url:
        [report] = cold_containers(1, container_env(adobe, url), adobe.params(),
                                   at_once=False)

    assert report.status == 200
    assert adobe.token_requests == 1
    warnings = [json.loads(line) for line in report.log.splitlines()
                if '"shared token store unavailable' in line]
    assert len(warnings) == 1
    assert warnings[0]["store"].startswith("redis://127.0.0.1:")
    assert f"pw-{kind}-store" not in report.log


def test_a_store_refusing_the_password_never_fails_a_call(adobe: AdobeEmulator,
                                                          store: RedisServer) -> None:
    wrong = "not-the-store-password"
    [report] = cold_containers(1, container_env(adobe, store.url(password=wrong)),
                               adobe.params(), at_once=False)

    assert report.status == 200
    assert adobe.token_requests == 1
    assert report.log.count("shared token store unavailable") == 1
    assert wrong not in report.log
    assert store.password not in report.log


def test_a_zip_built_for_a_manifest_with_the_store_shares_one_token_between_two_containers(
        tmp_path: pathlib.Path, adobe: AdobeEmulator, store: RedisServer) -> None:
    project = tmp_path / "project"
    for folder in ("actions", "lib"):
        shutil.copytree(REPO / folder, project / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    store_input = "          IMS_TOKEN_STORE_URL: {value: $IMS_TOKEN_STORE_URL, init: true}\n"
    manifest_text = (REPO / "manifest.yaml").read_text().replace(
        "          IMS_ORG_ID: {value: $IMS_ORG_ID, init: true}\n",
        "          IMS_ORG_ID: {value: $IMS_ORG_ID, init: true}\n" + store_input)
    (project / "manifest.yaml").write_text(manifest_text)
    manifest = load_manifest(project / "manifest.yaml",
                             {**adobe.params(), "IMS_TOKEN_STORE_URL": store.url()})
    [built] = [z for z in build_zips(manifest) if z.action.name == "generic"]
    params = manifest.parameters(built.action)
    init = {name: str(params.pop(name)) for name in built.action.init_inputs}

    containers = [run_like_openwhisk(built.data, tmp_path / f"container-{n}", params=[params],
                                     main=built.action.main, env={**adobe.env(), **init},
                                     action_name="/ns/dx-excshell-1/generic")
                  for n in range(2)]

    assert "redis/__init__.py" in built.names()
    assert "IMS_TOKEN_STORE_URL" in init
    assert [c.results[0]["statusCode"] for c in containers] == [200, 200]
    assert adobe.token_requests == 1
    assert all(store.password not in c.stderr for c in containers)


def test_the_repository_zip_carries_no_store_client() -> None:
    manifest = load_manifest(REPO / "manifest.yaml", AdobeEmulator().params())
    [built] = [z for z in build_zips(manifest) if z.action.name == "generic"]

    assert not [name for name in built.names() if name.startswith("redis/")]
