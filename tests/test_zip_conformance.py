"""The repository's own action, built by deploy.py, loaded the way the OpenWhisk Python runtime
loads it and answering 200 against the IMS/AEM stand-in.

As the runtime does, the zip is unpacked, its root ``__main__.py`` renamed ``main__.py``, and
``main`` called in a fresh process whose environment holds only the ``__OW_*`` variables (here
also the stand-in's endpoints), with no PATH and no HOME."""

from __future__ import annotations

import pathlib

from tests.deploy_support import REPO, run_like_openwhisk
from tools.manifest import load_manifest
from tools.runtimes.python.build import build_zips
from tools.sandbox import SANDBOX_ORG_ID, AdobeEmulator


def test_the_built_generic_action_answers_200_in_a_runtime_like_process(
        tmp_path: pathlib.Path) -> None:
    with AdobeEmulator() as adobe:
        manifest = load_manifest(REPO / "manifest.yaml", adobe.params())
        [built] = [z for z in build_zips(manifest) if z.action.name == "generic"]
        params = manifest.parameters(built.action)

        # Two calls in one process: a warm container reuses its token.
        activation = run_like_openwhisk(
            built.data, tmp_path, params=[params, {**params, "current": "false"}],
            main=built.action.main, env=adobe.env(),
            action_name="/ns/dx-excshell-1/generic")
        token_requests, aem_requests = adobe.token_requests, adobe.aem_requests

    first, second = activation.results
    assert first["statusCode"] == 200, first
    assert first["headers"] == {"Content-Type": "application/json"}
    assert first["body"]["imsOrgId"] == SANDBOX_ORG_ID
    assert second["statusCode"] == 200, second
    assert (token_requests, aem_requests) == (1, 2)
    # Everything came from the zip: lib/ from the unpacked root, and none of the tools.
    assert activation.main_module == "main__"
    assert pathlib.Path(activation.lib_file).is_relative_to(activation.root)
    assert activation.loaded == []
    assert adobe.params()["OAUTHS2S_CLIENT_SECRET"] not in activation.stderr


def test_the_built_zip_holds_nothing_the_runtime_must_not_see() -> None:
    manifest = load_manifest(REPO / "manifest.yaml", AdobeEmulator().params())
    [built] = [z for z in build_zips(manifest) if z.action.name == "generic"]

    names = built.names()
    assert names[0] == "__main__.py"
    assert {name.split("/")[0] for name in names} == {"__main__.py", "actions", "lib"}
    assert "actions/generic/__main__.py" not in names
    assert all(name.endswith(".py") or "/__pycache__/" in name for name in names)
