"""An action as the manifest declares it, in any kind the peers deploy: ``function`` (a source
file, a folder, a ``.zip`` or ``.jar``, or a Python module), inline ``code``, ``docker: IMAGE``
or ``native: true``; its kind as written, a family's default, or inferred from the
function's extension (tools/runtimes/kinds.py).
"""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING, Any

from tools.manifest.model import Action
from tools.manifest.variables import UnsetVariablesError
from tools.runtimes import ActionCode, CodeError, family, runtime
from tools.runtimes.as_is import DockerImage, InlineCode, read_code
from tools.runtimes.kinds import (
    BLACKBOX,
    DOCKER_SKELETON,
    REQUIRES_MAIN,
    STOCK_DEFAULTS,
    STOCK_KINDS,
    KindChoice,
    choose,
)
from tools.runtimes.kinds import is_kind as looks_like_a_kind

if TYPE_CHECKING:
    from tools.manifest.entities import EntityReader

ACTION_KEYS = ("function", "location", "runtime", "kind", "main", "web", "web-export",
               "inputs", "annotations", "limits", "include", "code", "docker", "native",
               "conductor")
# What the peers accept on an action and nothing deploys: kept for render, else ignored.
DESCRIPTIVE_ACTION_KEYS = ("description", "version", "license", "outputs", "namespace",
                           "credential", "exposedUrl", "exclude")
REMOTE = ("a function at a URL needs the network: wskdeploy downloads it; download it into "
          "the project and name the file")


def read_action(reader: EntityReader, package: str, name: str, value: Any,
                where: str) -> Action:
    body = reader.mapping(value, where, (*ACTION_KEYS, *DESCRIPTIVE_ACTION_KEYS))
    if "location" in body:  # wskdeploy's old word for function
        at, function = reader.synonym(body, where, "function", "location")
        body = {**{k: v for k, v in body.items() if k != "location"}, "function": function}
        reader.declared.setdefault(f"{where}.function", reader.declaring_file(at))
    init: set[str] = set()
    inputs = reader.inputs(body.get("inputs"), f"{where}.inputs", init)
    choice = _kind(reader, body, where)
    code = _code(reader, body, where, choice.kind)
    return Action(
        package=package,
        name=name,
        code=code,
        kind=choice.kind,
        default_of=choice.default_of,
        main=_main(reader, body, where, choice.kind),
        web=reader.web(reader.synonym(body, where, "web", "web-export")),
        web_given="web" in body or "web-export" in body,
        web_final=reader.web_final,
        inputs=inputs,
        annotations=_annotations(reader, body, where),
        limits=reader.limits(body.get("limits"), f"{where}.limits"),
        init_inputs=frozenset(init),
        includes=reader.includes(body.get("include"), f"{where}.include"),
        descriptive={key: body[key] for key in DESCRIPTIVE_ACTION_KEYS if key in body},
    )


def _annotations(reader: EntityReader, body: dict[str, Any], where: str) -> dict[str, Any]:
    annotations = reader.web_annotations(body.get("annotations"), f"{where}.annotations")
    conductor = reader.flag(body.get("conductor"), f"{where}.conductor")
    return {**annotations, "conductor": True} if conductor else annotations


def _kind(reader: EntityReader, body: dict[str, Any], where: str) -> KindChoice:
    at, written = reader.synonym(body, where, "runtime", "kind")
    if body.get("docker") is not None or body.get("native") not in (None, False):
        if written is not None and written != BLACKBOX:
            raise reader.fault(at, "docker and native actions are kind blackbox: give no "
                                   "other runtime")
        return KindChoice(BLACKBOX)
    if written is None:
        function = body.get("function")
        choice = choose(None, function if isinstance(function, str) else None)
        if choice is None:
            raise reader.fault(f"{where}.runtime", "is required, e.g. python:3.11 (nor does "
                                                   "the function's extension say which)")
        return choice
    text = reader.resolve(written, at)
    function = body.get("function")
    implied = choose(None, function) if isinstance(function, str) else None
    if not isinstance(text, str) or not looks_like_a_kind(text):
        if implied is None:
            raise reader.fault(at, f"{written!r} is not a kind: family or family:version, "
                                   "e.g. python:3.11 or nodejs:20")
        reader.warn(f"{reader.place(at)}: {written!r} is not a kind; the function's extension "
                    f"says {implied.kind}, as wskdeploy takes it")
        return implied
    choice = choose(text, None)
    assert choice is not None  # a kind was written
    if not runtime(choice.kind).supports(choice.kind):
        raise reader.fault(at, f"unsupported kind '{text}': this tool deploys "
                               f"{runtime(choice.kind).described}")
    if choice.kind not in STOCK_KINDS and choice.default_of not in STOCK_DEFAULTS:
        if implied is not None and choice.default_of:  # a family no stock server has
            reader.warn(f"{reader.place(at)}: {text} is no kind family stock OpenWhisk runs; "
                        f"the function's extension says {implied.kind}, as wskdeploy takes it")
            return implied
        reader.warn(f"{reader.place(at)}: {text} is not a kind stock OpenWhisk runs; the "
                    "server decides at deploy")
    elif implied is not None and family(choice.kind) != family(implied.kind) \
            and not function.lower().endswith((".zip", ".jar")):
        reader.warn(f"{reader.place(at)}: {text} for a {pathlib.PurePath(function).suffix} "
                    "file; it is deployed as written")
    return choice


def _code(reader: EntityReader, body: dict[str, Any], where: str, kind: str) -> ActionCode:
    function = body.get("function")
    at = f"{where}.function"
    if "code" in body:
        if function is not None:
            raise reader.fault(f"{where}.code", "give code or function, not both")
        text = reader.text(body["code"], f"{where}.code", "the action's source")
        return InlineCode(text)
    if kind == BLACKBOX:
        image = (DOCKER_SKELETON if body.get("docker") is None
                 else reader.text(body["docker"], f"{where}.docker", "a docker image"))
        if function is None:  # the image alone (native: the stock skeleton)
            return DockerImage(image)
        return DockerImage(image, _read(reader, at, function, read_code))
    if not isinstance(function, str) or not function:
        raise reader.fault(at, "is required: the action's source file, folder or archive")
    return _read(reader, at, function, runtime(kind).read_code)


def _read(reader: EntityReader, at: str, value: Any, read: Any) -> ActionCode:
    if not isinstance(value, str) or not value:
        raise reader.fault(at, "must be a path: the action's source file, folder or archive")
    if value.lower().startswith(("http://", "https://")):
        raise reader.fault(at, f"{value!r}: {REMOTE}")
    unset_before = len(reader.unset)
    path = reader.resolve(value, at)
    if len(reader.unset) > unset_before:  # no path to read until every variable is set
        raise UnsetVariablesError(reader.unset, f"{reader.path}: ")
    try:
        return read(path, reader.declaring_file(at).parent)
    except CodeError as exc:
        raise reader.fault(at, str(exc)) from None


def _main(reader: EntityReader, body: dict[str, Any], where: str, kind: str) -> str:
    found = runtime(kind)
    main = body.get("main")
    if main is None:
        if kind.partition(":")[0] in REQUIRES_MAIN:  # the server refuses it; a deploy first
            reader.warn(f"{reader.place(where)}: no main: {kind} actions need the class (and "
                        "method) the runtime calls; a deploy refuses it")
        return "main" if found.runs_locally else ""
    if not isinstance(main, str) or not main.strip():
        raise reader.fault(f"{where}.main", f"{main!r} is not an entry point name")
    try:
        found.check_main(main)
    except CodeError as exc:
        raise reader.fault(f"{where}.main", str(exc)) from None
    return main
