"""Loading a built zip the way the OpenWhisk Python runtime does, before it is deployed.

A zip that cannot load (a missing ``lib/``, a module the image lacks, a typo in
``main``) would otherwise fail at the first activation of a new container. The
runtime unzips the code, renames the root ``__main__.py`` to ``main__.py`` and
imports it with the zip root as the working directory and ``sys.path[0]``, in an
environment with no PATH and no HOME; so does this check, in a fresh
interpreter (``-I``: no ``PYTHON*`` variables, no user site) whose only project
code is the zip's. Third-party packages are this interpreter's unless the
zip vendors them: the check catches a zip that lacks its own code, not a
package the image lacks. A zip with vendored wheels is checked only where they
can load (the kind's Python on Linux x86_64), by build.py.
"""

from __future__ import annotations

import io
import pathlib
import subprocess
import sys
import tempfile
import zipfile
from typing import TYPE_CHECKING

from tools.runtimes.python.sources import ENTRY_POINT, BuildError

if TYPE_CHECKING:
    from tools.manifest.model import Action

LOAD_TIMEOUT = 60  # seconds
_LOADER = """
import os, sys
sys.path.insert(0, os.getcwd())  # the zip's root, as the runtime has it (-I leaves it out)
module = __import__("main__")
entry = getattr(module, sys.argv[1], None)
if not callable(entry):
    sys.exit(f"the zip's __main__.py has no function {sys.argv[1]}()")
"""


def check_loads(action: Action, data: bytes) -> None:
    """BuildError naming the action and the import's last line when the zip does not load."""
    with tempfile.TemporaryDirectory(prefix="zip-load-") as folder:
        root = pathlib.Path(folder)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(root)
        (root / ENTRY_POINT).rename(root / "main__.py")
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter, our own script
                [sys.executable, "-I", "-c", _LOADER, action.main], cwd=root,
                env={}, capture_output=True, text=True,
                timeout=LOAD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise BuildError(f"{action.qualified_name}: importing its zip took over "
                             f"{LOAD_TIMEOUT} s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no message)"]
        raise BuildError(f"{action.qualified_name}: the zip does not load as the runtime "
                         f"loads it: {lines[-1]}")
