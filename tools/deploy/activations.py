"""``deploy.py invoke``, ``activation`` and ``logs``: run an action and read what it did.

``invoke`` is a blocking invocation that prints the result, then one line with the
activation id, duration and status; an invocation that outlives the blocking
window (HTTP 202) is polled until it ends or the action's timeout passes.
``--web`` calls the action's web URL instead. ``logs`` lists the project's (or
one entity's) activations oldest first with their log lines, our actions' JSON
lines shown as ``time level logger: message key=value…``; ``--follow`` prints
each new activation exactly once although the list is eventually consistent.
The AUTH key and the manifest's secret values are masked in every line.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lib import http
from lib.deadline import Deadline
from lib.errors import ActionError
from tools.deploy.client import Call, Client, Entity, OpenWhiskError, environment_transport, web_url
from tools.deploy.log_format import (
    STATUS,
    duration,
    entity_path,
    format_log_line,
    started_ms,
    timestamp,
)
from tools.deploy.target import Target
from tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from tools.manifest.model import DEFAULT_TIMEOUT_MS

# An invocation runs the action: only a throttled one (429, not run) is sent again.
INVOKE_RETRIES = http.RetryPolicy(statuses=frozenset({429}))
BLOCKING_SECONDS = 75.0  # OpenWhisk's blocking wait is 60 s; a 202 comes after it
POLL_FIRST, POLL_MAX = 0.5, 8.0  # seconds between polls: doubled while nothing changes
FOLLOW_LOOKBACK_MS = 6 * 60_000  # an activation may show this late (the longest timeout 5 min)
MAX_PAGES = 25  # of 200 activations each, per list
PAGE = 200
DEFAULT_LIMIT = 20

sleep: Callable[[float], None] = time.sleep  # tests replace it to step a --follow


# --- invoke -------------------------------------------------------------------------------------

def invoke(target: Target, action: str, params: Mapping[str, Any]) -> int:
    entity = Entity("actions", _entity_name(action))
    what = f"invoking {entity.name}"
    call = Call("POST", entity.path(target.namespace), {"blocking": "true"}, dict(params))
    invoker = Client(target.credentials, policy=INVOKE_RETRIES, request_seconds=BLOCKING_SECONDS)
    answer = invoker.answer(call, what)
    body = answer.json_or(None)
    if answer.status == 202 and isinstance(body, dict) and body.get("activationId"):
        activation_id = str(body["activationId"])
        target.console.line(f"activation {activation_id} outlived the blocking wait; polling "
                             "until it ends")
        activation = _await(target, entity, activation_id)
    elif answer.status in (200, 502) and isinstance(body, dict) and "response" in body:
        activation = body
    else:
        raise target.client.error(what, answer)
    return _report(target, activation)


def _await(target: Target, entity: Entity, activation_id: str) -> dict[str, Any]:
    """The activation once it has ended; an error when the action's timeout passes first."""
    held = target.client.get(entity, target.namespace, code="false") or {}
    limits = held.get("limits") if isinstance(held.get("limits"), dict) else {}
    timeout_ms = limits.get("timeout") if isinstance(limits.get("timeout"), int) \
        else DEFAULT_TIMEOUT_MS
    # The blocking wait already took up to a minute of it; a margin for the record to land.
    deadline = time.monotonic() + timeout_ms / 1000 + 30
    delay = POLL_FIRST
    while True:
        found = target.client.activation(target.namespace, activation_id)
        if isinstance(found, dict):
            return found
        if time.monotonic() >= deadline:
            raise OpenWhiskError(f"activation {activation_id}", None,
                                 f"it has not ended after the action's timeout "
                                 f"({timeout_ms} ms); see deploy.py activation {activation_id}")
        sleep(delay)
        delay = min(delay * 2, POLL_MAX)


def _report(target: Target, activation: Mapping[str, Any]) -> int:
    response = activation.get("response") if isinstance(activation.get("response"), dict) else {}
    result = response.get("result", {})
    status = str(response.get("status") or ("success" if response.get("success") else "error"))
    target.console.line(json.dumps(target.console.masked(result), indent=2, ensure_ascii=False))
    target.console.line(f"activation {activation.get('activationId', '?')}  "
                         f"{duration(activation)}  {status}")
    return EXIT_OK if response.get("success") or status == "success" else EXIT_FAILED


# --- activation ---------------------------------------------------------------------------------

def show_activation(target: Target, activation_id: str, part: str) -> int:
    found = target.client.activation(target.namespace, activation_id, part)
    if not isinstance(found, dict):
        raise OpenWhiskError(f"activation {activation_id}", 404,
                             "no such activation, or it has not ended yet")
    if part == "logs":
        for line in found.get("logs") or []:
            target.console.line(str(target.console.masked(str(line))))
        return EXIT_OK
    target.console.line(json.dumps(target.console.masked(found), indent=2, ensure_ascii=False))
    return EXIT_OK


# --- logs ---------------------------------------------------------------------------------------

def parse_since(text: str | None, now_ms: int | None = None) -> int | None:
    """Epoch ms from ``1700000000000`` (epoch ms), ``90s``/``10m``/``2h``/``1d`` (ago) or an
    ISO 8601 time (``2024-01-01T12:00:00Z``; without a zone: UTC)."""
    if text is None:
        return None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    text = text.strip()
    if text.isdigit():
        return int(text)
    relative = re.fullmatch(r"(\d+)([smhd])", text)
    if relative:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[relative.group(2)]
        return now_ms - int(relative.group(1)) * unit * 1000
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text}: not epoch ms, a duration such as 10m, 2h or 1d, nor "
                         "an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp() * 1000)


def entity_names(target: Target, entity: str | None) -> list[str]:
    if entity:
        return [_entity_name(entity)]
    if target.manifest is None:
        raise UsageError("no manifest: name an action (PKG/ACTION)")
    return [item.qualified_name for item in (*target.manifest.actions(),
                                             *target.manifest.sequences())]


def fetch(target: Target, names: list[str], since: int | None,
          limit: int | None) -> list[dict[str, Any]]:
    """The newest ``limit`` (None: all, up to MAX_PAGES pages) activations of ``names`` since
    ``since``, with their logs, oldest first."""
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        got: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            want = PAGE if limit is None else min(PAGE, limit - len(got))
            if want <= 0:
                break
            params = {"name": name, "limit": str(want), "skip": str(len(got)), "docs": "true"}
            if since is not None:
                params["since"] = str(since)
            page = target.client.activations(target.namespace, params,
                                             f"listing the activations of {name}")
            got.extend(item for item in page if isinstance(item, dict)
                       and isinstance(item.get("activationId"), str))
            if len(page) < want:
                break
        for item in got:
            found[item["activationId"]] = item
    ordered = sorted(found.values(), key=started_ms)
    return ordered if limit is None else ordered[-limit:]


def logs(target: Target, entity: str | None, *, limit: int, since: str | None, raw: bool,
         follow: bool) -> int:
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    names = entity_names(target, entity)
    since_ms = parse_since(since)
    target.console.raw = raw
    if not follow:
        for activation in fetch(target, names, since_ms, limit):
            _print_activation(target, activation, raw)
        return EXIT_OK
    return _follow(target, names, since_ms, limit, raw)


def _follow(target: Target, names: list[str], since_ms: int | None, limit: int,
            raw: bool) -> int:
    """Prints the last ``limit`` activations, then each new one once, as it shows.

    Every poll lists what started since FOLLOW_LOOKBACK_MS before the newest start seen, so one
    that shows late (eventually consistent, or a long one that ended later) is still found; the
    ids printed within that window are remembered, so none is printed twice."""
    floor = int(time.time() * 1000) - FOLLOW_LOOKBACK_MS
    window = floor if since_ms is None else min(since_ms, floor)
    first = fetch(target, names, window, None)
    shown = [item for item in first if since_ms is None or started_ms(item) >= since_ms][-limit:]
    seen = {item["activationId"]: started_ms(item) for item in first}
    newest = max((started_ms(item) for item in first), default=floor + FOLLOW_LOOKBACK_MS)
    for activation in shown:
        _print_activation(target, activation, raw)
    delay = POLL_FIRST
    try:
        while True:
            sleep(delay)
            low = newest - FOLLOW_LOOKBACK_MS
            fresh = [item for item in fetch(target, names, low, None)
                     if item["activationId"] not in seen]
            for activation in fresh:
                _print_activation(target, activation, raw)
                seen[activation["activationId"]] = started_ms(activation)
                newest = max(newest, started_ms(activation))
            low = newest - FOLLOW_LOOKBACK_MS
            seen = {key: began for key, began in seen.items() if began >= low}
            delay = POLL_FIRST if fresh else min(delay * 2, POLL_MAX)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _print_activation(target: Target, activation: Mapping[str, Any], raw: bool) -> None:
    response = activation.get("response") if isinstance(activation.get("response"), dict) else {}
    status = response.get("status") or STATUS.get(activation.get("statusCode"), "?")
    target.console.line(f"{activation.get('activationId')}  {timestamp(started_ms(activation))}  "
                         f"{duration(activation)}  {status}  {entity_path(activation)}")
    for line in activation.get("logs") or []:
        text = str(line) if raw else format_log_line(str(line), target.console.masked)
        for part in text.splitlines() or [""]:
            target.console.line("  " + target.console.masked(part))


def _entity_name(text: str) -> str:
    name = text.strip().strip("/")
    if not name or name.count("/") > 1 or any(not part for part in name.split("/")):
        raise UsageError(f"{text!r}: name an action as PKG/ACTION (or ACTION)")
    return name


# --- web ----------------------------------------------------------------------------------------

def web(target: Target, action: str, *, method: str, headers: Iterable[str],
        data: str | None) -> int:
    """Calls the action's web URL as a browser would (no AUTH key, no redirect followed) and
    prints the status line, the headers and the body."""
    package, _, name = _entity_name(action).rpartition("/")
    url = web_url(target.credentials.apihost, target.namespace, package, name)
    sent: dict[str, str] = {}
    for header in headers:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"--header {header!r}: write it as 'Name: value'")
        sent[key.strip()] = value.strip()
    try:
        answer = http.request(method.upper(), url, service="OpenWhisk web action",
                              deadline=Deadline(time.time() + BLOCKING_SECONDS),
                              policy=http.RetryPolicy(retries=0), headers=sent,
                              data=None if data is None else data.encode("utf-8"),
                              transport=environment_transport(url))
    except ActionError as exc:
        raise OpenWhiskError(f"calling {url}", None, target.console.secrets.mask(exc.message)) \
            from None
    target.console.line(f"HTTP {answer.status}")
    for key, value in answer.headers.items():
        target.console.line(f"{key}: {value}")
    target.console.line("")
    target.console.line(answer.body.decode("utf-8", "replace"))
    return EXIT_OK if answer.status < 400 else EXIT_FAILED
