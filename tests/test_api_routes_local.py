"""The manifest's API routes answered by the local web server (--serve, and --watch picking up
route changes), over real HTTP on loopback."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
import requests

from tests.local_support import Project, temporary_project
from tools.local.client import LocalClient
from tools.local.reload import FileWatcher, ReloadingWebActions
from tools.local.server import WebActionServer

APIS = """\
    apis:
      club:
        /club:
          books:
            echo: {method: get}
          books/{isbn}:
            echo: {method: get, response: http}
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Iterator[Project]:
    monkeypatch.delenv("AIO_RUNTIME_NAMESPACE", raising=False)
    for made in temporary_project(tmp_path, monkeypatch):
        manifest = made.manifest_path.read_text(encoding="utf-8")
        made.manifest_path.write_text(manifest.replace("    actions:\n", APIS + "    actions:\n",
                                                       1), encoding="utf-8")
        yield made


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def test_routes_run_their_action_as_the_gateway_would(project, http):
    with LocalClient(project.manifest_path, project.env_file) as client, \
            WebActionServer(client.actions, client.namespace, port=0) as server:
        as_json = http.get(f"{server.url}/api/club/books", params={"q": "1"}, timeout=10)
        as_http = http.get(f"{server.url}/api/club/books/978-0596517748/", timeout=10)
        no_verb = http.post(f"{server.url}/api/club/books", timeout=10)
        unknown = http.get(f"{server.url}/api/club/members", timeout=10)
        web = http.get(f"{server.url}/api/v1/web/guest/demo/echo", timeout=10)
        urls, base = server.action_urls(), server.url

    assert as_json.status_code == 200
    params = as_json.json()["body"]["params"]  # json: the result itself
    assert (params["q"], params["__ow_path"]) == ("1", "")
    assert as_http.status_code == 200
    assert as_http.json()["params"]["__ow_path"] == "/club/books/978-0596517748/"
    assert (no_verb.status_code, no_verb.json()) == (
        404, {"status": 404, "message": "Error: Whoops. Verb not supported."})
    assert (unknown.status_code, unknown.json()) == (
        404, {"status": 404, "message": "Error: Not found."})
    assert web.status_code == 200
    assert f"GET {base}/api/club/books/{{isbn}}" in urls


def test_watch_picks_up_a_new_route(project, http):
    with LocalClient(project.manifest_path, project.env_file) as client:
        actions = ReloadingWebActions(client, stderr=io.StringIO())
        with WebActionServer([], "", port=0, web_actions=actions) as server, \
                FileWatcher(actions.files, actions.reload):
            assert http.get(f"{server.url}/api/club/members", timeout=10).status_code == 404
            manifest = project.manifest_path.read_text(encoding="utf-8")
            project.manifest_path.write_text(manifest.replace(
                "          books:\n", "          members:\n            echo: {method: get}\n"
                "          books:\n", 1), encoding="utf-8")
            deadline = time.monotonic() + 10
            while (answer := http.get(f"{server.url}/api/club/members", timeout=10)
                   ).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)

    assert answer.status_code == 200
