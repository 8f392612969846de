"""The OpenWhisk REST API for deploying: entities, requests, and a client that sends them.

HTTP goes through :func:`lib.http.request`: timeouts, retries of connection
errors, 429 and 502/503/504 with backoff, and no redirects, so the AUTH key
never follows a redirect to another host.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from requests.utils import get_environ_proxies

from lib import http
from lib.deadline import Deadline
from lib.errors import ActionError
from lib.redact import KnownSecrets
from tools.deploy.credentials import Credentials
from tools.errors import EXIT_FAILED, ToolError
from tools.runtimes.kinds import server_defaults

SERVICE = "OpenWhisk"
API = "/api/v1"
# A PUT may echo the action back, code and all; OpenWhisk takes code up to 48 MB.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_MESSAGE = 500
LIST_PAGE = 200  # the most entities OpenWhisk lists in one answer
MAX_LIST_PAGES = 500  # 100,000 entities of one collection: far past any namespace
# The fields of an entity record a deploy reads, and the JSON types each may have.
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "namespace": (str,), "annotations": (list,), "parameters": (list,),
    "exec": (dict,), "limits": (dict,), "binding": (dict, bool), "status": (str,),
    "trigger": (dict, str), "action": (dict, str),
}
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
MIN_UPLOAD_BYTES_PER_SECOND = 100_000  # a slow uplink: a 48 MB zip may take minutes
REQUEST_SECONDS = 30.0  # a server that trickles its answer cannot hold a deploy for minutes


@dataclass(frozen=True)
class Entity:
    """A package, action, trigger or rule, as the REST API addresses it."""

    collection: str  # "packages" | "actions" | "triggers" | "rules"
    name: str  # "pkg", "pkg/action", "trigger" …
    type: str = ""  # its entity type when not the collection's own word: sequence, binding

    def __str__(self) -> str:
        return f"{self.type or self.collection[:-1]} {self.name}"

    def path(self, namespace: str) -> str:
        names = "/".join(quote(part, safe="") for part in self.name.split("/"))
        return f"{API}/namespaces/{quote(namespace, safe='')}/{self.collection}/{names}"


def qualified(namespace: str, name: str) -> str:
    """``/ns/pkg/action`` for a name of the project; a fully qualified name as it is."""
    return name if name.startswith("/") else f"/{namespace}/{name}"


def split_qualified(name: str) -> tuple[str, str]:
    """``/ns/pkg/action`` -> (``ns``, ``pkg/action``)."""
    namespace, _, rest = name.lstrip("/").partition("/")
    return namespace, rest


@dataclass(frozen=True)
class Call:
    """One REST request, the same whether it is sent or shown by --dry-run."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None

    def target(self) -> str:
        return self.path + (f"?{urlencode(self.params)}" if self.params else "")


def put(entity: Entity, namespace: str, body: Mapping[str, Any]) -> Call:
    return Call("PUT", entity.path(namespace), {"overwrite": "true"}, body)


def web_url(apihost: str, namespace: str, package: str, name: str) -> str:
    """A web action's URL; ``default`` stands for no package."""
    parts = (namespace, package or "default", name)
    return f"{apihost}{API}/web/" + "/".join(quote(part, safe="") for part in parts)


def activations_path(namespace: str, *parts: str) -> str:
    tail = "".join("/" + quote(part, safe="") for part in parts)
    return f"{API}/namespaces/{quote(namespace, safe='')}/activations{tail}"


@dataclass(frozen=True)
class Server:
    kinds: frozenset[str]
    ranges: dict[str, tuple[int, int, str]]  # the action limits it reports, as the manifest's
    defaults: dict[str, str]  # each family's default kind


# GET / reports durations in ms, memory and log sizes in bytes; the manifest has MB.
_SERVER_LIMITS = {"timeout": ("action_duration", 1, "ms"),
                  "memory": ("action_memory", 1024 * 1024, "MB"),
                  "logs": ("action_logsize", 1024 * 1024, "MB")}


def server_ranges(limits: Mapping[str, Any]) -> dict[str, tuple[int, int, str]]:
    """The limits ``GET /`` reports (``min_action_memory`` …) as manifest ranges; a limit it
    does not report is left out."""
    found = {}
    for name, (field_name, scale, unit) in _SERVER_LIMITS.items():
        low, high = limits.get(f"min_{field_name}"), limits.get(f"max_{field_name}")
        if all(isinstance(value, int) and not isinstance(value, bool) for value in (low, high)):
            found[name] = (-(-low // scale), high // scale, unit)
    return found


def check_record(what: str, record: Any, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An entity record whose fields have the types a deploy reads them as; OpenWhiskError
    naming the field otherwise (``"annotations": 7`` must not end a watch with a TypeError)."""
    if not isinstance(record, dict):
        raise OpenWhiskError(what, 200, f"a malformed answer: an entry is "
                                        f"{type(record).__name__}, not an object")
    for name, types in RECORD_FIELDS.items():
        value = record.get(name)
        if value is not None and not isinstance(value, types):
            raise OpenWhiskError(what, 200, f"a malformed answer: '{name}' is "
                                            f"{type(value).__name__}")
    for name in ("annotations", "parameters"):
        for item in record.get(name) or []:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise OpenWhiskError(what, 200, f"a malformed answer: an entry of '{name}' has "
                                                "no key")
    for name in required:
        if record.get(name) is None:
            raise OpenWhiskError(what, 200, f"a malformed answer: an entry has no '{name}'")
    return record


class OpenWhiskError(ToolError):
    """The server refused a request or could not be reached."""

    exit_status = EXIT_FAILED

    def __init__(self, what: str, status: int | None, error: str,
                 code: str | None = None) -> None:
        self.what = what
        self.status = status
        self.error = error
        self.code = code
        status_text = f"HTTP {status}: " if status is not None else ""
        code_text = f" (code {code})" if code else ""
        super().__init__(f"{what}: {status_text}{error}{code_text}")


# PUT with overwrite=true and DELETE are idempotent, so a 500 is worth another try too.
RETRIES = http.RetryPolicy(statuses=http.RETRY_STATUSES | {500})


def environment_transport(url: str) -> http.Transport:
    """What a developer behind a corporate proxy or with a private CA sets: ``HTTPS_PROXY``/
    ``HTTP_PROXY`` with ``NO_PROXY``, and ``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE``."""
    bundle = next((os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)),
                  None)
    return http.Transport(bundle or True, get_environ_proxies(url))


class Client:
    def __init__(self, credentials: Credentials, *, policy: http.RetryPolicy = RETRIES,
                 request_seconds: float = REQUEST_SECONDS) -> None:
        self.credentials = credentials
        self.policy = policy
        self.request_seconds = request_seconds  # each request's deadline, retries included
        # Anything the server echoes back is masked before it is shown.
        self.secrets = KnownSecrets()
        self.secrets.add(credentials.auth)
        self.secrets.add(credentials.basic_auth[1])
        self.secrets.add(base64.b64encode(credentials.auth.encode("latin-1")).decode())

    def send(self, call: Call, what: str) -> http.Answer:
        """The answer to ``call``; OpenWhiskError unless it is 2xx."""
        answer = self.answer(call, what)
        if not 200 <= answer.status < 300:
            raise self.error(what, answer)
        return answer

    def put_call(self, entity: Entity, namespace: str, body: Mapping[str, Any]) -> Call:
        return put(entity, namespace, body)

    def delete(self, entity: Entity, namespace: str) -> bool:
        """True when deleted, False when it was already gone."""
        return self.found(Call("DELETE", entity.path(namespace)), str(entity)) is not None

    def get(self, entity: Entity, namespace: str, **params: str) -> dict[str, Any] | None:
        """What the server holds for ``entity``, or None when it has none."""
        what = f"reading {entity}"
        answer = self.found(Call("GET", entity.path(namespace), params), what)
        if answer is None:
            return None
        body = answer.json_or(None)
        if not isinstance(body, dict):
            raise OpenWhiskError(what, answer.status, "the answer is not an object")
        return check_record(what, body)

    def get_json(self, call: Call, what: str) -> Any:
        """The JSON answer to ``call``; None for 404 (or no JSON)."""
        answer = self.found(call, what)
        return None if answer is None else answer.json_or(None)

    def found(self, call: Call, what: str) -> http.Answer | None:
        """The 2xx answer to ``call``, None for 404; OpenWhiskError otherwise."""
        answer = self.answer(call, what)
        if answer.status == 404:
            return None
        if not 200 <= answer.status < 300:
            raise self.error(what, answer)
        return answer

    def activation(self, namespace: str, activation_id: str, part: str = "") -> Any:
        """An activation record (or its ``logs`` or ``result``); None until it has ended."""
        return self.get_json(Call("GET", activations_path(namespace, activation_id,
                                                          *([part] if part else []))),
                             f"reading activation {activation_id}")

    def activations(self, namespace: str, params: Mapping[str, str], what: str) -> list[Any]:
        """One page of the activations list."""
        page = self.get_json(Call("GET", activations_path(namespace), dict(params)), what)
        if not isinstance(page, list):
            raise OpenWhiskError(what, 200, "the answer is not a list")
        return page

    def list(self, collection: str, namespace: str) -> list[dict[str, Any]]:
        """Every entity of a collection, page by page (the server gives 200 at most a page).

        A server (or a proxy before it) that ignores ``skip`` would answer the same page
        forever: a page that only repeats what was seen, or more than MAX_LIST_PAGES pages,
        is an error rather than an endless, growing list."""
        what = f"listing {collection}"
        found: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        path = f"{API}/namespaces/{quote(namespace, safe='')}/{collection}"
        for _ in range(MAX_LIST_PAGES):
            page = self.send(Call("GET", path, {"limit": str(LIST_PAGE), "skip": str(len(found))}),
                             what).json_or(None)
            if not isinstance(page, list):
                raise OpenWhiskError(what, 200, "the answer is not a list")
            entries = [check_record(what, entry, ('name',)) for entry in page]
            names = {(str(entry.get("namespace")), entry["name"]) for entry in entries}
            if entries and names <= seen:
                raise OpenWhiskError(what, 200, f"the server answered skip={len(found)} with "
                                     "entities it had already listed (does something before "
                                     "it ignore skip?); stopped")
            seen |= names
            found.extend(entries)
            if len(page) < LIST_PAGE:
                return found
        raise OpenWhiskError(what, 200, f"more than {MAX_LIST_PAGES * LIST_PAGE} entities; "
                             "stopped")

    def invoke(self, action: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        """A blocking invocation of a fully qualified action; its result."""
        namespace, name = split_qualified(action)
        call = Call("POST", Entity("actions", name).path(namespace),
                    {"blocking": "true", "result": "true"}, body)
        answer = self.send(call, what)
        result = answer.json_or(None)
        if answer.status == 202:  # still running when the blocking wait ended: no verdict yet
            activation = result.get("activationId") if isinstance(result, dict) else None
            raise OpenWhiskError(what, 202, f"did not finish in time; its activation "
                                            f"{activation} has the outcome")
        return result if isinstance(result, dict) else {}

    def set_rule_status(self, name: str, namespace: str, status: str) -> None:
        self.send(Call("POST", Entity("rules", name).path(namespace), {}, {"status": status}),
                  f"setting rule {name} {status}")

    def server(self) -> Server:
        """What ``GET /`` says the server runs (``runtimes``) and allows (``limits``)."""
        body = self.send(Call("GET", "/"), "checking the server").json_or(None)
        runtimes = body.get("runtimes") if isinstance(body, dict) else None
        if not isinstance(runtimes, dict):
            raise OpenWhiskError("checking the server", 200,
                                 "GET / answered no 'runtimes' map: is APIHOST an OpenWhisk "
                                 "server?")
        kinds = frozenset(
            entry["kind"] for family in runtimes.values() if isinstance(family, list)
            for entry in family if isinstance(entry, dict) and isinstance(entry.get("kind"), str))
        limits = body.get("limits")
        return Server(kinds, server_ranges(limits if isinstance(limits, dict) else {}),
                      server_defaults(runtimes))

    def namespace(self) -> str:
        """The caller's own namespace, which ``_`` stands for."""
        body = self.send(Call("GET", f"{API}/namespaces"), "listing namespaces").json_or(None)
        if not isinstance(body, list) or not body or not isinstance(body[0], str):
            raise OpenWhiskError("listing namespaces", 200, "the answer names no namespace")
        return body[0]

    def answer(self, call: Call, what: str) -> http.Answer:
        """The answer to ``call`` whatever its status (502 and 202 are news to invoke)."""
        # The deadline, and the time to send the body in: longer for a large zip.
        size = len(json.dumps(call.body)) if call.body is not None else 0
        seconds = self.request_seconds + size / MIN_UPLOAD_BYTES_PER_SECOND
        try:
            return http.request(
                call.method,
                self.credentials.apihost + call.path,
                service=SERVICE,
                deadline=Deadline(time.time() + seconds),
                connect_timeout=seconds,
                policy=self.policy,
                max_body=MAX_ANSWER_BYTES,
                auth=self.credentials.basic_auth,
                params=dict(call.params),
                json=call.body,
                headers={"Accept": "application/json"},
                transport=environment_transport(self.credentials.apihost),
            )
        except ActionError as exc:  # unreachable, too slow, or an oversized answer
            if exc.details.get("reason") == "SSLError":
                host = urlsplit(self.credentials.apihost).hostname
                raise OpenWhiskError(what, None, f"TLS with {host} failed: its certificate is "
                                     "not trusted here (expired, for another name, or signed "
                                     "by a CA this machine does not know). For a private CA, "
                                     "point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at its PEM "
                                     "file") from None
            raise OpenWhiskError(what, None, f"{exc.message} at {self.credentials.apihost}") \
                from None

    def error(self, what: str, answer: http.Answer) -> OpenWhiskError:
        """The server's refusal as an error, its message masked and bounded."""
        body = answer.json_or(None)
        error = body.get("error") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        if error is None:
            error = answer.body.decode("utf-8", "replace").strip() or "(no message)"
        return OpenWhiskError(what, answer.status,
                              self.secrets.mask(str(error))[:MAX_MESSAGE],
                              None if code is None else self.secrets.mask(str(code)))
