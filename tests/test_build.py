"""Action zips: contents, byte-identical rebuilds, offline vendoring, and loading like OpenWhisk."""

from __future__ import annotations

import io
import os
import pathlib
import zipfile

import pytest

from tests.deploy_support import (
    HELLO_ENV,
    action_named,
    make_project,
    make_wheel,
    run_like_openwhisk,
)
from tools.manifest import load_manifest
from tools.runtimes.python.build import (
    ActionZip,
    build_zip,
    build_zips,
    cached_name,
    vendor_files,
    write_zips,
)
from tools.runtimes.python.sources import BuildError, entry_point

# Files a project holds that must stay out of the zip.
CLUTTER = {
    "actions/hello/__main__.py": "import tools.local.runner  # the local-run entry point\n",
    "actions/hello/tests/test_handler.py": "def test(): pass\n",
    "actions/hello/test_inline.py": "",
    "actions/hello/conftest.py": "",
    "actions/hello/.hidden/x.py": "",
    "actions/hello/notes.txt": "not code\n",
    "actions/hello/sub/__init__.py": "",
    "actions/hello/sub/deep.py": "DEEP = True\n",
    "actions/other/__init__.py": "def main(params):\n    return {}\n",
    "lib/README.md": "docs\n",
    "lib/shared/__init__.py": "",
    "lib/__pycache__/util.cpython-311.pyc": "",
    "tools/__init__.py": "",
    "tests/test_all.py": "",
    ".env": "API_SECRET=s3cr3t\n",
    "requirements.txt": "tinydep\n",
    "setup.py": "",
}


def source_names(built: ActionZip) -> list[str]:
    """The zip's names less the bytecode beside the sources (tests/test_bytecode.py has it)."""
    return [name for name in built.names() if not name.endswith(".pyc")]


def manifest_for(root: pathlib.Path, manifest: str | None = None, files: dict | None = None):
    path = make_project(root, manifest, files) if manifest else make_project(root, files=files)
    return load_manifest(path, HELLO_ENV)


def test_the_zip_holds_the_entry_point_the_action_package_and_lib_only(
        tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path, files=CLUTTER)

    [built] = build_zips(manifest)

    assert source_names(built) == [
        "__main__.py",
        "actions/__init__.py",
        "actions/hello/__init__.py",
        "actions/hello/handler.py",
        "actions/hello/sub/__init__.py",
        "actions/hello/sub/deep.py",
        "lib/__init__.py",
        "lib/shared/__init__.py",
        "lib/util.py",
    ]
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        assert archive.read("actions/hello/handler.py") == (
            tmp_path / "actions/hello/handler.py").read_bytes()
        assert archive.read("__main__.py").decode() == entry_point(built.action)


def test_the_entry_point_exposes_the_manifests_main_name(tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path, "packages:\n  demo:\n    actions:\n      hello:\n"
                                      "        function: actions/hello\n"
                                      "        runtime: python:3.11\n        main: handler\n")
    text = entry_point(action_named(manifest, "hello"))
    assert "from actions.hello import handler\n" in text
    assert '__all__ = ["handler"]' in text


def test_a_single_file_action_ships_alone_with_its_parent_packages(
        tmp_path: pathlib.Path) -> None:
    files = {"actions/single.py": "from lib.util import greeting\n\n\n"
                                  "def main(params):\n    return {'body': greeting('one')}\n"}
    manifest = manifest_for(tmp_path, "packages:\n  demo:\n    actions:\n      one:\n"
                                      "        function: actions/single.py\n"
                                      "        runtime: python:3.11\n", files)

    [built] = build_zips(manifest)

    assert source_names(built) == ["__main__.py", "actions/__init__.py", "actions/single.py",
                                   "lib/__init__.py", "lib/util.py"]
    activation = run_like_openwhisk(built.data, tmp_path, params=[{}])
    assert activation.results == [{"body": "hello one"}]


def test_rebuilds_are_byte_identical_whatever_the_file_times_and_modes(
        tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path, files=CLUTTER)
    first = build_zips(manifest)[0].data

    for path in tmp_path.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o755)
    second = build_zips(manifest)[0].data

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}


def test_a_changed_source_changes_the_zip(tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path)
    before = build_zips(manifest)[0]
    (tmp_path / "lib" / "util.py").write_text("def greeting(name):\n    return 'hi'\n")
    assert build_zips(manifest)[0].sha256 != before.sha256


def test_the_zip_runs_like_openwhisk_runs_it(tmp_path: pathlib.Path) -> None:
    [built] = build_zips(manifest_for(tmp_path, files=CLUTTER))

    activation = run_like_openwhisk(built.data, tmp_path, params=[{"name": "zip"}])

    assert activation.results == [{"statusCode": 200, "body": {
        "greeting": "hello zip", "action": "/ns/demo/hello"}}]
    assert activation.main_module == "main__"
    assert pathlib.Path(activation.lib_file).is_relative_to(activation.root)
    assert activation.loaded == []


def test_a_custom_main_name_is_what_the_runtime_calls(tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path, "packages:\n  demo:\n    actions:\n      hello:\n"
                                      "        function: actions/hello\n"
                                      "        runtime: python:3.11\n        main: handler\n")
    [built] = build_zips(manifest)

    activation = run_like_openwhisk(built.data, tmp_path, params=[{}], main="handler")

    assert activation.results == [{"statusCode": 200, "body": {"via": "handler"}}]


def test_zips_are_written_per_package_and_action(tmp_path: pathlib.Path) -> None:
    zips = build_zips(manifest_for(tmp_path / "project"))

    [path] = write_zips(zips, tmp_path / "out")

    assert path == tmp_path / "out" / "demo" / "hello.zip"
    assert path.read_bytes() == zips[0].data


def test_a_vendored_file_may_not_replace_a_project_file(tmp_path: pathlib.Path) -> None:
    manifest = manifest_for(tmp_path)
    with pytest.raises(BuildError, match=r"demo/hello: a vendored requirement brings lib/util\.py"):
        build_zip(action_named(manifest, "hello"), manifest.root, {"lib/util.py": b"x = 1\n"})


def offline(wheels: pathlib.Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheels))


def test_vendor_installs_the_requirements_into_the_zip_root(tmp_path: pathlib.Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    files = {"requirements.txt": "tinydep==1.0\n",
             "lib/util.py": "import tinydep\n\n\n"
                            "def greeting(name):\n    return f'{name} {tinydep.VALUE}'\n"}
    manifest = manifest_for(tmp_path / "project", files=files)

    [built] = build_zips(manifest, vendor=True, pip_args=offline(wheels))
    [again] = build_zips(manifest, vendor=True, pip_args=offline(wheels))

    names = built.names()
    assert "tinydep/__init__.py" in names
    assert "tinydep-1.0.dist-info/METADATA" in names
    assert "requirements.txt" not in names
    assert not [n for n in names if n.startswith("bin/")]
    # pip's own bytecode stays out; the build's own goes beside each source
    assert {n for n in names if n.endswith(".pyc")} == ({
        cached_name(n) for n in names if n.endswith(".py") and n != "__main__.py"}
        if built.bytecode else set())
    assert built.data == again.data
    activation = run_like_openwhisk(built.data, tmp_path, params=[{"name": "vendored"}])
    assert activation.results[0]["body"]["greeting"] == "vendored 42"


def test_vendor_takes_only_linux_wheels_for_the_kinds_python(tmp_path: pathlib.Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, tag="cp311-cp311-win_amd64")
    make_wheel(wheels, version="2.0", tag="cp312-cp312-manylinux2014_x86_64")
    manifest = manifest_for(tmp_path / "project", files={"requirements.txt": "tinydep\n"})

    with pytest.raises(BuildError) as caught:
        build_zips(manifest, vendor=True, pip_args=offline(wheels))

    message = str(caught.value)
    assert "pip could not install" in message
    assert "Python 3.11 (manylinux2014_x86_64)" in message
    assert "tinydep" in message  # pip's own explanation follows


def test_vendor_needs_a_requirements_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(BuildError, match=r"requirements\.txt does not exist"):
        vendor_files(tmp_path / "requirements.txt", "3.11")


def test_vendor_installs_wheels_for_the_kinds_python_not_the_hosts(
        tmp_path: pathlib.Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels, version="3.12", tag="cp312-cp312-manylinux2014_x86_64")
    manifest = manifest_for(tmp_path / "project",
                            "packages:\n  demo:\n    actions:\n      hello:\n"
                            "        function: actions/hello\n        runtime: python:3.12\n",
                            {"requirements.txt": "tinydep\n"})

    [built] = build_zips(manifest, vendor=True, pip_args=offline(wheels))

    assert "tinydep-3.12.dist-info/WHEEL" in built.names()
