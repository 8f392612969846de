"""Fixtures for the deploy tool's tests: the hello project (tests/fixtures/hello_project), loopback
servers, zips run as OpenWhisk runs them."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.manifest import Action, Manifest

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # whole projects, copied into a test's tmp_path

# A tiny action with the repo's layout: a package under actions/ that imports lib/.
HELLO_PROJECT = FIXTURES / "hello_project"
HELLO_MANIFEST = (HELLO_PROJECT / "manifest.yaml").read_text(encoding="utf-8")

HELLO_ENV = {"REGION": "eu", "NAME": "world", "API_SECRET": "s3cr3t-value-for-tests"}


def copy_fixture(fixture: pathlib.Path, root: pathlib.Path) -> None:
    """The fixture's files under ``root`` (made if need be), as fresh writable copies."""
    shutil.copytree(fixture, root, dirs_exist_ok=True, copy_function=shutil.copyfile,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def make_project(root: pathlib.Path, manifest: str = HELLO_MANIFEST,
                 files: Mapping[str, str] | None = None) -> pathlib.Path:
    """The hello project copied under ``root``, ``files`` written over it and ``manifest`` as
    its ``manifest.yaml``; the manifest's path."""
    copy_fixture(HELLO_PROJECT, root)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    manifest_path = root / "manifest.yaml"
    manifest_path.write_text(manifest, encoding="utf-8")
    return manifest_path


def alarm_project(tmp_path: pathlib.Path, monkeypatch: Any, target: Mapping[str, str]
                  ) -> pathlib.Path:
    """The alarm project (a sequence, an alarm trigger with a rule, a binding) over the hello
    code, as the working directory, its .env holding HELLO_ENV and ``target``'s AIO_RUNTIME_*
    variables (a controller stand-in's ``env()``); no ~/.wskprops of the user's."""
    root = tmp_path / "project"
    copy_fixture(HELLO_PROJECT, root)
    shutil.copyfile(FIXTURES / "alarm_project" / "manifest.yaml", root / "manifest.yaml")
    return in_project(root, tmp_path, monkeypatch, {**HELLO_ENV, **target})


def in_project(root: pathlib.Path, home: pathlib.Path, monkeypatch: Any,
               env: Mapping[str, str]) -> pathlib.Path:
    """``root`` as the working directory, its .env holding ``env``, ``home`` as HOME (no
    ~/.wskprops of the user's); ``root``."""
    (root / ".env").write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(home))
    return root


def deploy_cli(capsys: Any, *argv: str, hidden: tuple[str, ...] = ()) -> tuple[int, str]:
    """``deploy.py`` run with ``argv``: its status and all it printed, which holds no
    traceback, no AUTH key of the stand-in's and none of ``hidden``."""
    import deploy
    from tests.openwhisk_standin import AUTH

    status = deploy.main(list(argv))
    out, err = capsys.readouterr()
    for never in ("Traceback", AUTH.partition(":")[2], *hidden):
        assert never not in out + err, never
    return status, out + err


def action_named(manifest: Manifest, name: str) -> Action:
    """The manifest's one action called ``name`` or ``package/name``."""
    found = [a for a in manifest.actions() if name in (a.name, a.qualified_name)]
    assert len(found) == 1, f"{name}: {[a.qualified_name for a in found]} in {manifest.path}"
    return found[0]


def zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


# What the OpenWhisk Python runtime's launcher does once the zip is unpacked and __main__.py
# renamed: the zip root is the cwd and sys.path[0], then `from main__ import <main> as main`.
# It calls main once per line of parameters (a warm container), and reports where lib/ came
# from and which of the tools' modules got imported.
_LAUNCHER = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import main__
entry = getattr(main__, sys.argv[1])
results = [entry(json.loads(line)) for line in sys.argv[2:]]
lib = sys.modules.get("lib")
report = {
    "results": results,
    "main_module": main__.__name__,
    "lib_file": getattr(lib, "__file__", None),
    "loaded": sorted(name for name in ("tools", "yaml", "dotenv") if name in sys.modules),
}
print("\\n@@RESULT@@" + json.dumps(report))
"""


@dataclass(frozen=True)
class Activation:
    results: list[Any]
    main_module: str
    lib_file: str | None
    loaded: list[str]
    root: pathlib.Path
    stderr: str


def run_like_openwhisk(code: bytes, work: pathlib.Path, *, params: list[dict[str, Any]],
                       main: str = "main", env: Mapping[str, str] | None = None,
                       action_name: str = "/ns/demo/hello") -> Activation:
    """Unpacks ``code`` and calls its main as the runtime does, in a process whose
    environment holds only the ``__OW_*`` variables and ``env`` (no PATH, no HOME)."""
    root = work / "action"
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        archive.extractall(root)
    (root / "__main__.py").rename(root / "main__.py")
    process_env = {
        "__OW_ACTION_NAME": action_name,
        "__OW_NAMESPACE": action_name.split("/")[1],
        "__OW_ACTIVATION_ID": "0123456789abcdef0123456789abcdef",
        "__OW_TRANSACTION_ID": "fedcba9876543210",
        "__OW_DEADLINE": str(int((time.time() + 60) * 1000)),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-I", "-c", _LAUNCHER, main, *(json.dumps(p) for p in params)],
        cwd=root, env=process_env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.rpartition("@@RESULT@@")[2])
    return Activation(report["results"], report["main_module"], report["lib_file"],
                      report["loaded"], root, done.stderr)


def make_wheel(folder: pathlib.Path, name: str = "tinydep", version: str = "1.0",
               tag: str = "py3-none-any") -> pathlib.Path:
    """A minimal wheel built by hand, so vendoring is tested without any index."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                          f"Tag: {tag}\n").encode(),
    }
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


@dataclass
class Loopback:
    """A one-answer HTTP server on 127.0.0.1 and the requests it received."""

    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def loopback_server(status: int, headers: Mapping[str, str] | None = None,
                    body: bytes = b"") -> Iterator[Loopback]:
    """Answers every request with ``status``, ``headers`` and ``body``; records method,
    path and (lower-case) headers of each."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with lock:
                record.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record = Loopback(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
