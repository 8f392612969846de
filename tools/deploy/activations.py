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

import base64
import datetime
import json
import pathlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote

from lib import http
from lib.deadline import Deadline
from lib.errors import ActionError
from tools.deploy.client import API, Call, Client, Entity, OpenWhiskError, environment_transport
from tools.deploy.credentials import OWN_NAMESPACE, Credentials
from tools.deploy.operations import Console, Options, _credentials, _secrets
from tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ManifestError, ToolError
from tools.manifest import Manifest, load_env, load_manifest

# An invocation runs the action: only a throttled one (429, not run) is sent again.
INVOKE_RETRIES = http.RetryPolicy(statuses=frozenset({429}))
BLOCKING_SECONDS = 75.0  # OpenWhisk's blocking wait is 60 s; a 202 comes after it
DEFAULT_TIMEOUT_MS = 60_000  # an action's timeout when its limits cannot be read
POLL_FIRST, POLL_MAX = 0.5, 8.0  # seconds between polls: doubled while nothing changes
FOLLOW_LOOKBACK_MS = 6 * 60_000  # an activation may show this late (the longest timeout 5 min)
MAX_PAGES = 25  # of 200 activations each, per list
PAGE = 200
DEFAULT_LIMIT = 20
_LOG = re.compile(r"\A(\S+) (stdout|stderr): ?(.*)\Z", re.DOTALL)
_SHOWN_FIELDS = ("time", "level", "logger", "message")
_HIDDEN_FIELDS = ("activation_id", "exception")

sleep: Callable[[float], None] = time.sleep  # tests replace it to step a --follow


class UsageError(ToolError):
    exit_status = 2


class _Client(Client):
    """The deploy client, with the answer itself when its status is the news (502, 202)."""

    def answer(self, call: Call, what: str) -> http.Answer:
        return self._request(call, what)

    def get_json(self, path: str, params: Mapping[str, str], what: str) -> Any:
        """The JSON answer to a GET; None for 404."""
        answer = self._request(Call("GET", path, dict(params)), what)
        if answer.status == 404:
            return None
        if not 200 <= answer.status < 300:
            raise self._error(what, answer)
        return answer.json_or(None)


class Session:
    """A target (credentials, namespace), its clients and a masking console."""

    def __init__(self, manifest: Manifest | None, env: Mapping[str, str], options: Options,
                 out: TextIO | None = None) -> None:
        credentials = _credentials(env, Options(apihost=options.apihost, auth=options.auth,
                                                namespace=options.namespace,
                                                allow_http=options.allow_http))
        assert credentials is not None
        self.credentials: Credentials = credentials
        self.manifest = manifest
        secrets = _secrets(manifest, credentials)
        secrets.add(base64.b64encode(credentials.auth.encode("latin-1")).decode())
        self.console = Console(out, secrets)
        self.client = _Client(credentials, policy=options.retry)
        self.invoker = _Client(credentials, policy=INVOKE_RETRIES,
                               request_seconds=BLOCKING_SECONDS)
        self._namespace: str | None = None

    @property
    def namespace(self) -> str:
        if self._namespace is None:
            self._namespace = (self.credentials.namespace
                               if self.credentials.namespace != OWN_NAMESPACE
                               else self.client.namespace())
        return self._namespace

    def mask(self, value: Any) -> Any:
        """``value`` with known secrets masked in every string, keys too (before any JSON
        encoding, which would escape a quote inside a secret)."""
        mask = self.console.secrets.mask
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, dict):
            return {mask(str(key)): self.mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask(item) for item in value]
        return value

    def activations_path(self, *parts: str) -> str:
        tail = "".join("/" + quote(part, safe="") for part in parts)
        return f"{API}/namespaces/{quote(self.namespace, safe='')}/activations{tail}"


# --- invoke -------------------------------------------------------------------------------------

def parse_params(pairs: Iterable[tuple[str, str]], param_file: pathlib.Path | None) -> dict:
    """``--param-file`` (a JSON object) under the ``-p KEY VALUE`` pairs; a value that reads as
    JSON is taken as JSON (``-p n 3`` is the number 3), as ``wsk`` does."""
    params: dict[str, Any] = {}
    if param_file is not None:
        try:
            loaded = json.loads(param_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--param-file {param_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--param-file {param_file}: not a JSON object")
        params.update(loaded)
    for key, value in pairs:
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def invoke(session: Session, action: str, params: Mapping[str, Any]) -> int:
    entity = Entity("actions", _entity_name(action))
    what = f"invoking {entity.name}"
    call = Call("POST", entity.path(session.namespace), {"blocking": "true"}, dict(params))
    answer = session.invoker.answer(call, what)
    body = answer.json_or(None)
    if answer.status == 202 and isinstance(body, dict) and body.get("activationId"):
        activation_id = str(body["activationId"])
        session.console.line(f"activation {activation_id} outlived the blocking wait; polling "
                             "until it ends")
        activation = _await(session, entity, activation_id)
    elif answer.status in (200, 502) and isinstance(body, dict) and "response" in body:
        activation = body
    else:
        raise session.client._error(what, answer)
    return _report(session, activation)


def _await(session: Session, entity: Entity, activation_id: str) -> dict[str, Any]:
    """The activation once it has ended; an error when the action's timeout passes first."""
    held = session.client.get(entity, session.namespace, code="false") or {}
    limits = held.get("limits") if isinstance(held.get("limits"), dict) else {}
    timeout_ms = limits.get("timeout") if isinstance(limits.get("timeout"), int) \
        else DEFAULT_TIMEOUT_MS
    # The blocking wait already took up to a minute of it; a margin for the record to land.
    deadline = time.monotonic() + timeout_ms / 1000 + 30
    delay = POLL_FIRST
    while True:
        found = session.client.get_json(session.activations_path(activation_id), {},
                                        f"reading activation {activation_id}")
        if isinstance(found, dict):
            return found
        if time.monotonic() >= deadline:
            raise OpenWhiskError(f"activation {activation_id}", None,
                                 f"it has not ended after the action's timeout "
                                 f"({timeout_ms} ms); see deploy.py activation {activation_id}")
        sleep(delay)
        delay = min(delay * 2, POLL_MAX)


def _report(session: Session, activation: Mapping[str, Any]) -> int:
    response = activation.get("response") if isinstance(activation.get("response"), dict) else {}
    result = response.get("result", {})
    status = str(response.get("status") or ("success" if response.get("success") else "error"))
    session.console.line(json.dumps(session.mask(result), indent=2, ensure_ascii=False))
    session.console.line(f"activation {activation.get('activationId', '?')}  "
                         f"{_duration(activation)}  {status}")
    return EXIT_OK if response.get("success") or status == "success" else EXIT_FAILED


# --- activation ---------------------------------------------------------------------------------

def show_activation(session: Session, activation_id: str, part: str) -> int:
    path = session.activations_path(activation_id, *([part] if part else []))
    found = session.client.get_json(path, {}, f"reading activation {activation_id}")
    if not isinstance(found, dict):
        raise OpenWhiskError(f"activation {activation_id}", 404,
                             "no such activation, or it has not ended yet")
    if part == "logs":
        for line in found.get("logs") or []:
            session.console.line(str(session.mask(str(line))))
        return EXIT_OK
    session.console.line(json.dumps(session.mask(found), indent=2, ensure_ascii=False))
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


def entity_names(session: Session, entity: str | None) -> list[str]:
    if entity:
        return [_entity_name(entity)]
    if session.manifest is None:
        raise UsageError("no manifest: name an action (PKG/ACTION)")
    return [item.qualified_name for item in (*session.manifest.actions(),
                                             *session.manifest.sequences())]


def fetch(session: Session, names: list[str], since: int | None,
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
            page = session.client.get_json(session.activations_path(), params,
                                           f"listing the activations of {name}")
            if not isinstance(page, list):
                raise OpenWhiskError(f"listing the activations of {name}", 200,
                                     "the answer is not a list")
            got.extend(item for item in page if isinstance(item, dict)
                       and isinstance(item.get("activationId"), str))
            if len(page) < want:
                break
        for item in got:
            found[item["activationId"]] = item
    ordered = sorted(found.values(), key=_start)
    return ordered if limit is None else ordered[-limit:]


def logs(session: Session, entity: str | None, *, limit: int, since: str | None, raw: bool,
         follow: bool) -> int:
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    names = entity_names(session, entity)
    since_ms = parse_since(since)
    if not follow:
        for activation in fetch(session, names, since_ms, limit):
            _print_activation(session, activation, raw)
        return EXIT_OK
    return _follow(session, names, since_ms, limit, raw)


def _follow(session: Session, names: list[str], since_ms: int | None, limit: int,
            raw: bool) -> int:
    """Prints the last ``limit`` activations, then each new one once, as it shows.

    Every poll lists what started since FOLLOW_LOOKBACK_MS before the newest start seen, so one
    that shows late (eventually consistent, or a long one that ended later) is still found; the
    ids printed within that window are remembered, so none is printed twice."""
    floor = int(time.time() * 1000) - FOLLOW_LOOKBACK_MS
    window = floor if since_ms is None else min(since_ms, floor)
    first = fetch(session, names, window, None)
    shown = [item for item in first if since_ms is None or _start(item) >= since_ms][-limit:]
    seen = {item["activationId"]: _start(item) for item in first}
    newest = max((_start(item) for item in first), default=floor + FOLLOW_LOOKBACK_MS)
    for activation in shown:
        _print_activation(session, activation, raw)
    delay = POLL_FIRST
    try:
        while True:
            sleep(delay)
            low = newest - FOLLOW_LOOKBACK_MS
            fresh = [item for item in fetch(session, names, low, None)
                     if item["activationId"] not in seen]
            for activation in fresh:
                _print_activation(session, activation, raw)
                seen[activation["activationId"]] = _start(activation)
                newest = max(newest, _start(activation))
            low = newest - FOLLOW_LOOKBACK_MS
            seen = {key: start for key, start in seen.items() if start >= low}
            delay = POLL_FIRST if fresh else min(delay * 2, POLL_MAX)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _print_activation(session: Session, activation: Mapping[str, Any], raw: bool) -> None:
    response = activation.get("response") if isinstance(activation.get("response"), dict) else {}
    status = response.get("status") or _STATUS.get(activation.get("statusCode"), "?")
    session.console.line(f"{activation.get('activationId')}  {_time(_start(activation))}  "
                         f"{_duration(activation)}  {status}  {_path(activation)}")
    for line in activation.get("logs") or []:
        text = str(line) if raw else format_log_line(str(line))
        for part in text.splitlines() or [""]:
            session.console.line("  " + session.mask(part))


_STATUS = {0: "success", 1: "application error", 2: "action developer error",
           3: "whisk internal error"}


def format_log_line(line: str) -> str:
    """A stored log line with our actions' JSON shown as ``time level logger: message k=v…``;
    any other line as it is."""
    match = _LOG.match(line)
    if not match:
        return line
    try:
        entry = json.loads(match.group(3))
    except (ValueError, RecursionError):
        return line
    if not isinstance(entry, dict) or not all(key in entry for key in ("level", "message")):
        return line
    extra = " ".join(f"{key}={_value(value)}" for key, value in entry.items()
                     if key not in _SHOWN_FIELDS and key not in _HIDDEN_FIELDS)
    text = (f"{entry.get('time', match.group(1))} {entry['level']} "
            f"{entry.get('logger', '-')}: {entry['message']}" + (f" {extra}" if extra else ""))
    if entry.get("exception"):
        text += "\n" + "\n".join("    " + part for part in str(entry["exception"]).splitlines())
    return text


def _value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"=" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _start(activation: Mapping[str, Any]) -> int:
    start = activation.get("start")
    return start if isinstance(start, int) else 0


def _time(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _duration(activation: Mapping[str, Any]) -> str:
    duration = activation.get("duration")
    return f"{duration}ms" if isinstance(duration, int) else "?ms"


def _path(activation: Mapping[str, Any]) -> str:
    for note in activation.get("annotations") or []:
        if isinstance(note, dict) and note.get("key") == "path":
            return str(note.get("value")).partition("/")[2]
    return str(activation.get("name", ""))


def _entity_name(text: str) -> str:
    name = text.strip().strip("/")
    if not name or name.count("/") > 1 or any(not part for part in name.split("/")):
        raise UsageError(f"{text!r}: name an action as PKG/ACTION (or ACTION)")
    return name


# --- web ----------------------------------------------------------------------------------------

def web(session: Session, action: str, *, method: str, headers: Iterable[str],
        data: str | None) -> int:
    """Calls the action's web URL as a browser would (no AUTH key, no redirect followed) and
    prints the status line, the headers and the body."""
    names = [session.namespace, *_entity_name(action).split("/")]
    if len(names) == 2:
        names.insert(1, "default")
    url = f"{session.credentials.apihost}{API}/web/" + "/".join(quote(n, safe="") for n in names)
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
        raise OpenWhiskError(f"calling {url}", None, session.console.secrets.mask(exc.message)) \
            from None
    session.console.line(f"HTTP {answer.status}")
    for key, value in answer.headers.items():
        session.console.line(f"{key}: {value}")
    session.console.line("")
    session.console.line(answer.body.decode("utf-8", "replace"))
    return EXIT_OK if answer.status < 400 else EXIT_FAILED


# --- the command line ---------------------------------------------------------------------------

def run(args: Any, out: TextIO | None = None) -> int:
    """``invoke``, ``activation`` or ``logs`` as parsed by tools.deploy.cli."""
    if args.env_file is not None and not args.env_file.is_file():
        raise ManifestError(f"--env-file {args.env_file}: no such file")
    env = load_env(args.env_file or pathlib.Path(".env"))
    manifest = load_manifest(args.manifest, env) if args.manifest.is_file() else None
    if args.command == "logs" and manifest is None and not args.entity:
        raise ManifestError(f"{args.manifest}: no such file (or name an action: logs PKG/ACTION)")
    options = Options(apihost=args.apihost, auth=args.auth, namespace=args.namespace,
                      allow_http=args.allow_http)
    session = Session(manifest, env, options, out)
    if args.command == "invoke":
        if args.web:
            return web(session, args.action, method=args.method, headers=args.header,
                       data=args.data)
        return invoke(session, args.action, parse_params(args.param or (), args.param_file))
    if args.command == "activation":
        part = "logs" if args.logs else "result" if args.result else ""
        return show_activation(session, args.id, part)
    return logs(session, args.entity, limit=args.limit, since=args.since, raw=args.raw,
                follow=args.follow)
