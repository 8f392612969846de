"""Bytecode in the action zip: unchecked-hash pycs beside the sources when the builder's Python
is the kind's, identical bytes from any builder process, used as they are by a runtime-like
import; none from another Python, and the build and the deploy say so."""

from __future__ import annotations

import importlib.util
import io
import json
import pathlib
import subprocess
import sys
import zipfile

import pytest

import deploy as cli
from tests.deploy_support import HELLO_ENV, REPO, make_project, run_like_openwhisk
from tools.manifest import load_manifest
from tools.runtimes.python.build import (
    BUILDER_PYTHON,
    ENTRY_POINT,
    ActionZip,
    build_zips,
    bytecode,
    cached_name,
)
from tools.sandbox import AdobeEmulator

TAG = sys.implementation.cache_tag
OTHER_PYTHON = "3.12" if BUILDER_PYTHON != "3.12" else "3.11"
HELLO = ("packages:\n  demo:\n    actions:\n      hello:\n        function: actions/hello\n"
         "        runtime: python:{version}\n")

pytestmark = pytest.mark.skipif(sys.implementation.name != "cpython",
                                reason="bytecode is built by CPython only")


def hello(root: pathlib.Path, version: str = BUILDER_PYTHON, files: dict | None = None):
    return load_manifest(make_project(root, HELLO.format(version=version), files), HELLO_ENV)


def contents(built: ActionZip) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def with_file(data: bytes, name: str, text: bytes) -> bytes:
    """The zip with one entry's content replaced and everything else as it was."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, text if info.filename == name else source.read(info))
    return out.getvalue()


def test_each_module_has_its_unchecked_hash_pyc_beside_it(tmp_path: pathlib.Path) -> None:
    [built] = build_zips(hello(tmp_path))
    files = contents(built)

    sources = sorted(name for name in files if name.endswith(".py"))
    pycs = sorted(name for name in files if name.endswith(".pyc"))
    assert built.bytecode
    assert built.note == ""
    assert pycs == sorted(cached_name(name) for name in sources if name != ENTRY_POINT)
    assert "lib/__pycache__/util." + TAG + ".pyc" in pycs
    for source in sources:
        if source == ENTRY_POINT:  # the runtime renames it main__.py: a pyc would go unused
            continue
        pyc = files[cached_name(source)]
        assert pyc[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, source not checked
        assert pyc[8:16] == importlib.util.source_hash(files[source])


_BUILD_IN_A_CHILD = """
import hashlib, json, pathlib, sys
{prelude}
from tools.runtimes.python.build import build_zips
from tools.manifest import load_manifest
manifest = load_manifest(pathlib.Path(sys.argv[1]), json.loads(sys.argv[2]))
print(json.dumps([hashlib.sha256(z.data).hexdigest() for z in build_zips(manifest)]))
"""


@pytest.mark.parametrize("manifest", ["hello", "repo"])
def test_builder_processes_agree_to_the_byte(tmp_path: pathlib.Path, manifest: str) -> None:
    """Two builder processes that differ in hash seed and in what they imported first build
    the same bytes as this one; marshal output can depend on both."""
    if manifest == "hello":
        path, env = hello(tmp_path).path, HELLO_ENV
    else:
        path, env = REPO / "manifest.yaml", AdobeEmulator().params()
    here = [z.sha256 for z in build_zips(load_manifest(path, env))]
    children = []
    for seed, prelude in (("1", ""), ("12345", "import requests, email.utils, json, decimal")):
        done = subprocess.run(
            [sys.executable, "-c", _BUILD_IN_A_CHILD.format(prelude=prelude), str(path),
             json.dumps(env)],
            cwd=REPO, env={"PYTHONHASHSEED": seed, "PATH": ""}, capture_output=True,
            text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        children.append(json.loads(done.stdout))
    assert children == [here, here]
    if manifest == "repo":
        assert all(z.bytecode for z in build_zips(load_manifest(path, env))) == (
            BUILDER_PYTHON == "3.11")


def test_the_runtime_imports_the_pycs_without_reading_or_writing_bytecode(
        tmp_path: pathlib.Path) -> None:
    [built] = build_zips(hello(tmp_path / "project"))
    # A source changed after the build: an unchecked pyc is used as it is, so the answer
    # still comes from the bytecode, proof that the runtime imported it.
    code = with_file(built.data, "lib/util.py",
                     b"def greeting(name):\n    return f'from source {name}'\n")

    activation = run_like_openwhisk(code, tmp_path, params=[{"name": "pyc"}])

    assert activation.results[0]["body"]["greeting"] == "hello pyc"
    after = {path.relative_to(activation.root).as_posix(): path.read_bytes()
             for path in activation.root.rglob("*.pyc")}
    shipped = {name: data for name, data in contents(built).items() if name.endswith(".pyc")}
    assert {name: after[name] for name in shipped} == shipped  # none rewritten
    # Only the entry point, renamed main__.py by the runtime, was compiled on the way.
    assert set(after) - set(shipped) <= {f"__pycache__/main__.{TAG}.pyc"}


def test_the_generic_action_loads_its_modules_from_their_pycs(tmp_path: pathlib.Path) -> None:
    [built] = build_zips(load_manifest(REPO / "manifest.yaml", AdobeEmulator().params()))
    if not built.bytecode:
        pytest.skip(built.note)
    root = tmp_path / "action"
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        archive.extractall(root)
    probe = ("import json, os, sys\nsys.path.insert(0, os.getcwd())  # as the runtime does\n"
             "from actions.generic import main\n"
             "print(json.dumps({name: getattr(module, '__cached__', None) for name, module\n"
             "    in sys.modules.items() if name.split('.')[0] in ('lib', 'actions')}))\n")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", probe], cwd=root, env={},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    cached = json.loads(done.stdout)
    assert "lib.http" in cached
    assert "actions.generic.action" in cached
    for name, path in cached.items():
        assert path is not None, name
        assert pathlib.Path(path).is_file(), name  # -B: nothing was written, so it shipped
        assert pathlib.Path(path).is_relative_to(root), name


def test_another_python_builds_without_bytecode_and_says_so(tmp_path: pathlib.Path) -> None:
    manifest = hello(tmp_path, OTHER_PYTHON)
    said: list[str] = []

    [built] = build_zips(manifest, say=said.append)

    assert not built.bytecode
    assert not [name for name in built.names() if "__pycache__" in name]
    assert said == [built.note]
    assert f"demo/hello: no bytecode in the zip: it runs python:{OTHER_PYTHON}" in built.note
    assert f"build with Python {OTHER_PYTHON}" in built.note
    activation = run_like_openwhisk(built.data, tmp_path, params=[{"name": "source"}])
    assert activation.results[0]["body"]["greeting"] == "hello source"


@pytest.mark.parametrize("command", [["build", "--out", "zips"], ["deploy", "--dry-run"]])
def test_the_build_and_the_deploy_output_say_when_the_bytecode_is_left_out(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    hello(tmp_path, OTHER_PYTHON)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in HELLO_ENV.items()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert cli.main(command) == 0

    err = capsys.readouterr().err
    assert f"demo/hello: no bytecode in the zip: it runs python:{OTHER_PYTHON}" in err


def test_the_kinds_python_prints_no_note(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    hello(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["build", "--out", "zips"]) == 0
    assert "bytecode" not in capsys.readouterr().err


def test_a_module_that_does_not_compile_ships_without_a_pyc(tmp_path: pathlib.Path) -> None:
    files = {"lib/broken.py": "def broken(:\n", "lib/nul.py": "x = 1\0\n"}
    [built] = build_zips(hello(tmp_path, files=files))
    names = built.names()
    assert "lib/broken.py" in names
    assert cached_name("lib/broken.py") not in names
    assert "lib/nul.py" in names
    assert cached_name("lib/nul.py") not in names
    assert cached_name("lib/util.py") in names


def test_cached_names_follow_the_import_system() -> None:
    for name in ("lib/http.py", "actions/generic/action.py", "top.py", "a/b/c/__init__.py"):
        assert cached_name(name) == pathlib.Path(
            importlib.util.cache_from_source(name)).as_posix()
    assert bytecode({}) == {}
