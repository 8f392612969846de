"""The local loop: ``--serve --watch`` after a save that exits at import, a caller's init value
the environment cannot hold, and a secret echoed in other spellings by a local run."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import time
from collections.abc import Iterator

from bench.tool_faults.common import Observation, Project, Scenario, Settings, importable, project
from lib.redact import spellings
from tools.local import cli as local_cli
from tools.local.client import LocalClient
from tools.local.reload import FileWatcher, ReloadingWebActions
from tools.local.server import WebActionServer

WATCH_INTERVAL = 0.05  # seconds between the watcher's looks, for the scenario
BOUND_SECONDS = 10.0  # how long a save may take to be served
SECRET_NAME = "INIT_SECRET"  # noqa: S105 - a variable name, not a secret
GOOD = "def main(params):\n    return {'body': {'version': %d}}\n"
ECHO = """\
import base64, json, os
from urllib.parse import quote


def main(params):
    secret = os.environ['INIT_SECRET']
    return {'raw': secret, 'json': json.dumps({'s': secret}), 'url': quote(secret, safe=''),
            'base64': base64.b64encode(b'user:' + secret.encode()).decode()}
"""
WEB_ACTION = """\
packages:
  demo:
    actions:
      echo:
        function: {module}.py
        runtime: python:3.11
        web: 'yes'
        inputs:
          INIT_SECRET: {{value: $INIT_SECRET, init: true}}
        annotations:
          final: false  # a caller may name the init input
"""
EXITS = "raise SystemExit(3)\n"
EXIT_MESSAGE = "cannot import {module}: SystemExit: 3"
EXIT_SERVED = "500 naming SystemExit: 3; the next save served"
NUL_MESSAGE = ("'INIT_SECRET' cannot be set in the action's environment: the value holds a NUL "
               "character")
NOTHING_LEFT = "nothing left in the process environment"
NO_SPELLING = "exit 0; the secret in none of its spellings (raw, JSON, URL, base64)"


def _get(url: str, path: str) -> tuple[int, dict[str, object]]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=BOUND_SECONDS)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def _until(url: str, path: str, wanted: int) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + BOUND_SECONDS
    while True:
        status, body = _get(url, path)
        if status == wanted or time.monotonic() > deadline:
            return status, body
        time.sleep(WATCH_INTERVAL)


@contextlib.contextmanager
def _served(p: Project, module: str, *, watch: bool) -> Iterator[str]:
    """The project's web actions on 127.0.0.1, reloading on saves when ``watch``; the URL."""
    p.manifest.write_text(WEB_ACTION.format(module=module), encoding="utf-8")
    p.env_file.write_text(f"{SECRET_NAME}={p.settings.secret}\n", encoding="utf-8")
    with contextlib.redirect_stderr(io.StringIO()), \
            LocalClient(p.manifest, p.env_file) as client:
        actions = ReloadingWebActions(client, stderr=io.StringIO()) if watch else None
        with WebActionServer(client.actions, client.namespace, port=0,
                             web_actions=actions) as server:
            if actions is None:
                yield server.url
                return
            with FileWatcher(actions.files, actions.reload, interval=WATCH_INTERVAL):
                yield server.url


def exit_at_import(settings: Settings) -> Observation:
    with project(settings) as p, importable(p.root, "tool_faults_watch") as module:
        source = p.root / f"{module}.py"
        source.write_text(GOOD % 1, encoding="utf-8")
        with _served(p, module, watch=True) as url:
            path = "/api/v1/web/guest/demo/echo"
            started = time.perf_counter()
            source.write_text(EXITS + GOOD % 2, encoding="utf-8")
            status, body = _until(url, path, 500)
            source.write_text(GOOD % 33, encoding="utf-8")
            after, served = _until(url, path, 200)
            seconds = time.perf_counter() - started
        named = status == 500 and body.get("error") == EXIT_MESSAGE.format(module=module)
        outcome = (EXIT_SERVED if named and (after, served) == (200, {"version": 33})
                   else f"{status}: {body.get('error')}; then {after}: {served}")
    return Observation(outcome, seconds, {"status": status, "after_the_next_save": after})


def nul_init_value(settings: Settings) -> Observation:
    with project(settings) as p, importable(p.root, "tool_faults_nul") as module:
        (p.root / f"{module}.py").write_text(GOOD % 1, encoding="utf-8")
        with _served(p, module, watch=False) as url:
            started = time.perf_counter()
            status, body = _get(url, f"/api/v1/web/guest/demo/echo.json?{SECRET_NAME}=a%00b")
            seconds = time.perf_counter() - started
        left = os.environ.get(SECRET_NAME) is not None
        outcome = f"{status}: {body.get('error')}"
        outcome += "; THE INIT VALUE STAYED IN THE PROCESS" if left else f"; {NOTHING_LEFT}"
    return Observation(outcome, seconds, {"status": status})


def spelled_secret(settings: Settings) -> Observation:
    """A secret with a quote and a non-ASCII letter: JSON escapes both in the printed result."""
    secret = f'{settings.secret}"ü'
    with project(settings) as p, importable(p.root, "tool_faults_echo") as module:
        (p.root / f"{module}.py").write_text(ECHO, encoding="utf-8")
        p.manifest.write_text(WEB_ACTION.format(module=module), encoding="utf-8")
        p.env_file.write_text(f"{SECRET_NAME}='{secret}'\n", encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = local_cli.main(None, ["demo/echo", "--manifest", str(p.manifest),
                                           "--env-file", str(p.env_file)])
        seconds = time.perf_counter() - started
    shown = [text for text in spellings(secret, 6) if text in out.getvalue() + err.getvalue()]
    outcome = (NO_SPELLING if status == 0 and not shown else
               f"exit {status}; {len(shown)} spelling(s) of the secret printed")
    facts = {"exit_status": status, "spellings_printed": len(shown),
             "echoed": ["raw", "JSON", "URL", "base64 of user:secret"]}
    return Observation(outcome, seconds, facts)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("--serve --watch: a saved module raises SystemExit at import",
             EXIT_SERVED, exit_at_import),
    Scenario("web server: a NUL in a caller's init value (a non-final action)",
             f"400: {NUL_MESSAGE}; {NOTHING_LEFT}", nul_init_value),
    Scenario("local run: the result echoes an init secret with a quote and ü, spelled 4 ways",
             NO_SPELLING, spelled_secret),
)
