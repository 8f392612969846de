"""Running an action in this process the way an OpenWhisk Python container runs it.

The parameters are the ones a deploy stores (package inputs overlaid by the
action's, from the same manifest resolver ``deploy.py`` uses); the call sees
the ``__OW_*`` environment a container sets for an activation; the result is
classified by OpenWhisk's rules (success, application error, developer error),
which decide the CLI's exit code and the web server's projection.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import json
import logging
import os
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.credentials import IDENTITY_FIELDS
from lib.endpoints import ENDPOINT_VARIABLES
from lib.log import JsonFormatter, StderrHandler, fields
from lib.redact import known_secrets
from lib.web import MAX_PAYLOAD_BYTES
from tools.errors import ToolError
from tools.manifest import Action, Manifest
from tools.manifest.model import DEFAULT_TIMEOUT_MS

LOCAL_NAMESPACE = "guest"  # a stock OpenWhisk's namespace, for local web URLs
NAMESPACE_VARIABLE = "AIO_RUNTIME_NAMESPACE"
NOT_A_DICTIONARY = "The action did not return a dictionary or array."
NOT_JSON = "The action did not produce a valid JSON response."
TOO_LARGE = "The action produced a response that exceeded the allowed length: {} > {} bytes."

# os.environ is one per process, and __OW_* differ per activation: calls take turns. A
# Python container runs one activation at a time as well.
_CALL_LOCK = threading.Lock()


def tool_logger(name: str) -> logging.Logger:
    """A logger for the local tools' own lines: JSON on stderr, like the action's."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class RunnerError(ToolError):
    """The action cannot be found or loaded; the message says what to fix."""


class Outcome(enum.Enum):
    """OpenWhisk's classification of an activation's result."""

    SUCCESS = "success"
    APPLICATION_ERROR = "application error"  # a dict with a top-level "error" key
    DEVELOPER_ERROR = "developer error"  # no dict or list, or over the time limit


@dataclass(frozen=True)
class Activation:
    activation_id: str
    result: Any
    outcome: Outcome
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS


@dataclass(frozen=True)
class LocalAction:
    """An action ready to call: its manifest entry and what a deploy would store with it."""

    action: Action
    params: dict[str, Any]  # package inputs overlaid by the action's, less its init inputs
    namespace: str = LOCAL_NAMESPACE
    environment: dict[str, str] = field(default_factory=dict)  # extra variables, init inputs too

    @property
    def fully_qualified_name(self) -> str:
        return f"/{self.namespace}/{self.action.package}/{self.action.name}"

    @property
    def timeout_ms(self) -> int:
        return self.action.limits.timeout or DEFAULT_TIMEOUT_MS

    @property
    def annotations(self) -> dict[str, Any]:
        return self.action.all_annotations()


def find_action(manifest: Manifest, wanted: str) -> Action:
    """The manifest's action whose code is the module ``wanted`` (``actions.generic``), else
    the one named ``wanted`` (``package/action`` or ``action``)."""
    for matches in ((lambda a: getattr(a.code, "module", None) == wanted),
                    (lambda a: wanted in (a.qualified_name, a.name))):
        found = [action for action in manifest.actions() if matches(action)]
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(action.qualified_name for action in found)
            raise RunnerError(f"{manifest.path}: several actions run or are named {wanted} "
                              f"({names}); name one as package/action")
    known = ", ".join(f"{a.qualified_name} ({getattr(a.code, 'module', a.kind)})"
                      for a in manifest.actions())
    raise RunnerError(f"{manifest.path}: no action runs the module {wanted} or is named "
                      f"{wanted} (actions: {known or 'none'})")


def local_action(manifest: Manifest, action: Action, env: Mapping[str, str],
                 overrides: Mapping[str, Any] | None = None) -> LocalAction:
    """The action with its deploy-time parameters, namespace and endpoints from ``env``.

    Init inputs leave the parameters for the environment, as OpenWhisk moves them to /init
    and the runtime exports them to the action's process.
    """
    params, init = partition_arguments(action, {**manifest.parameters(action),
                                                **(overrides or {})})
    environment = {name: env[name] for name in ENDPOINT_VARIABLES if env.get(name)}
    return LocalAction(action, params, configured_namespace(env), {**environment, **init})


def partition_arguments(action: Action, params: Mapping[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters without the action's init inputs, and those as environment variables:
    what OpenWhisk's ContainerProxy.partitionArguments does before /init of a fresh container
    (a local call always behaves as one, so a caller's value for an init input is exported)."""
    arguments = {name: value for name, value in params.items() if name not in action.init_inputs}
    init = {name: init_environment_value(value) for name, value in params.items()
            if name in action.init_inputs}
    return arguments, init


def init_environment_value(value: Any) -> str:
    """What the runtime's proxy exports for an init parameter: a string as it is, any other
    JSON value as compact JSON (openwhisk-runtime-go ``ActionProxy.SetEnv``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def configured_namespace(env: Mapping[str, str]) -> str:
    """App Builder's ``AIO_RUNTIME_NAMESPACE`` (shell or .env), else ``guest``."""
    return env.get(NAMESPACE_VARIABLE) or LOCAL_NAMESPACE


def activation_environment(action: LocalAction, activation_id: str,
                           now: float | None = None) -> dict[str, str]:
    """The ``__OW_*`` variables a container sets for one activation."""
    started = time.time() if now is None else now
    return {
        "__OW_ACTIVATION_ID": activation_id,
        "__OW_ACTION_NAME": action.fully_qualified_name,
        "__OW_NAMESPACE": action.namespace,
        "__OW_DEADLINE": str(int(started * 1000) + action.timeout_ms),
    }


class EnvironmentValueError(RunnerError):
    """A value the process environment cannot hold (a NUL, text the file system's encoding
    cannot carry, a name with ``=``); the message names the variable, never its value."""


def environment_problem(name: str, value: str | None) -> str | None:
    """Why ``name=value`` cannot go into os.environ, or None when it can."""
    if not name or "=" in name or "\0" in name:
        return "the name is empty or holds '=' or a NUL character"
    try:
        os.fsencode(name)
    except UnicodeError:
        return "the name holds text the file system's encoding cannot carry"
    if value is None:
        return None
    if "\0" in value:
        return "the value holds a NUL character"
    try:
        os.fsencode(value)
    except UnicodeError:
        return "the value holds text the file system's encoding cannot carry"
    return None


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """``values`` in os.environ for the block (None: removed); what was there before comes
    back after, whatever fails. A value the environment cannot hold is refused before any is
    set (EnvironmentValueError naming it), so one activation's values never outlive it."""
    for name, value in values.items():
        problem = environment_problem(name, value)
        if problem is not None:
            raise EnvironmentValueError(f"{name!r} cannot be set in the action's environment: "
                                        f"{problem}")
    saved: dict[str, str | None] = {}
    try:
        for name, value in values.items():
            saved[name] = os.environ.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_entry_point(action: Action) -> Callable[[dict[str, Any]], Any]:
    """The action's main function, imported as the runtime would from the zip root."""
    root = str(action.code.source_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(action.code.module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too (a stray exit(), a module-level argparse)
        raise RunnerError(f"cannot import {action.code.module}: {described(exc)}") from None
    entry = getattr(module, action.main, None)
    if not callable(entry):
        raise RunnerError(f"{action.code.module} has no function {action.main}()")
    return entry


def described(exc: BaseException) -> str:
    """``Type: message``, or the type alone when there is no message (``exit()``)."""
    text = "" if isinstance(exc, SystemExit) and exc.code is None else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def invoke(action: LocalAction, params: Mapping[str, Any]) -> Activation:
    """Call the action's main with ``params``, as one activation, and classify the result.

    Init inputs among ``params`` go to the environment instead, as after OpenWhisk's /init.
    """
    entry = load_entry_point(action.action)
    arguments, init = partition_arguments(action.action, params)
    activation_id = secrets.token_hex(16)
    with _CALL_LOCK:
        started = time.monotonic()
        # A container's environment holds the init parameters, not the developer's shell:
        # an identity variable exported there must not stand in for an init input.
        environment: dict[str, str | None] = {
            **dict.fromkeys(IDENTITY_FIELDS), **action.environment, **init,
            **activation_environment(action, activation_id)}
        with patched_environ(environment):
            result = _call(entry, arguments)
        duration_ms = int((time.monotonic() - started) * 1000)
    outcome = classify(result)
    if outcome is Outcome.DEVELOPER_ERROR:
        result = {"error": NOT_A_DICTIONARY if _is_json(result) else NOT_JSON}
    else:
        size = len(json.dumps(result, ensure_ascii=False).encode())
        if size > MAX_PAYLOAD_BYTES:
            result = {"error": TOO_LARGE.format(size, MAX_PAYLOAD_BYTES)}
            outcome = Outcome.DEVELOPER_ERROR
    if duration_ms > action.timeout_ms:
        tool_logger("tools.local.runner").warning(
            "the action ran longer than its time limit; OpenWhisk would have stopped it",
            extra=fields(duration_ms=duration_ms, timeout_ms=action.timeout_ms))
        result = {"error": f"The action exceeded its time limits of {action.timeout_ms} "
                           "milliseconds."}
        outcome = Outcome.DEVELOPER_ERROR
    return Activation(activation_id, result, outcome, duration_ms)


def classify(result: Any) -> Outcome:
    """A dict or list that JSON can carry succeeds, unless it is a dict with ``error``."""
    if not isinstance(result, (dict, list)) or not _is_json(result):
        return Outcome.DEVELOPER_ERROR
    if isinstance(result, dict) and "error" in result:
        return Outcome.APPLICATION_ERROR
    return Outcome.SUCCESS


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _call(entry: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Any:
    """What the Python runtime does: an uncaught exception becomes ``{"error": str(exc)}``.
    A ``SystemExit`` (a stray ``exit()``) would end the runtime's process, never the local
    server: it is that activation's error."""
    try:
        return entry(params)
    except (Exception, SystemExit) as exc:
        # The runtime prints the traceback to the activation log (stderr); so do we, masked.
        sys.stderr.write(known_secrets.mask(traceback.format_exc()))
        return {"error": described(exc) if isinstance(exc, SystemExit) else str(exc)}
