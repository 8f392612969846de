"""``--serve --watch``: reload the served actions when their code, ``lib/``, the manifest or
``.env`` changes, on the same listening socket.

No watcher library: a background thread polls the files' modification times and sizes
(:class:`FileWatcher`). A change re-reads the manifest and ``.env``, drops the project's
action and ``lib/`` modules from ``sys.modules`` and imports them again
(:class:`ReloadingWebActions`). The swap happens under one lock that every request holds
while it runs, so a request in flight finishes on the old code and the next one gets the
new. While a reload fails (a manifest error, a SyntaxError or ImportError), the error is
printed once on stderr and every web request answers 500 with an OpenWhisk-style error body
naming it; the next good save restores normal answers.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import pathlib
import stat
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TextIO

from lib.redact import known_secrets
from tools.local.client import LocalClient
from tools.local.runner import LocalAction, RunnerError, described, load_entry_point
from tools.local.web_actions import WebActions
from tools.local.web_types import WebRequest, WebResponse, error_answer

POLL_SECONDS = 0.25
LIB_FOLDER = "lib"
# The secret registry is shared with the local tools' own masking: it is never re-imported.
PINNED_MODULES = frozenset({"lib.redact"})

Snapshot = dict[pathlib.Path, tuple[int, int]]


# --- what to watch and what to drop --------------------------------------------------------------

def source_folders(actions: Iterable[LocalAction], root: pathlib.Path
                   ) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """The folders whose modules belong to the project: (searched recursively, not recursively).

    An action that is a package folder counts whole; one that is a file brings the modules
    beside it; the project's ``lib/`` counts whole."""
    deep: set[pathlib.Path] = set()
    flat: set[pathlib.Path] = set()
    for local in actions:
        function = local.action.code.path
        if function.is_dir():
            deep.add(function.resolve())
        else:
            flat.add(function.parent.resolve())
    lib = root / LIB_FOLDER
    if lib.is_dir():
        deep.add(lib.resolve())
    return sorted(deep), sorted(flat)


def watched_files(deep: Iterable[pathlib.Path], flat: Iterable[pathlib.Path],
                  extra: Iterable[pathlib.Path]) -> list[pathlib.Path]:
    files = [path for folder in deep for path in folder.rglob("*.py")]
    files += [path for folder in flat for path in folder.glob("*.py")]
    return list(dict.fromkeys([*files, *extra]))


def snapshot(paths: Iterable[pathlib.Path]) -> Snapshot:
    """Modification time and size of each regular file that exists: a FIFO or a device
    (``x.py`` a link to ``/dev/zero``) is no source, and nothing here opens one."""
    stats: Snapshot = {}
    for path in paths:
        with contextlib.suppress(OSError):
            status = path.stat()
            if stat.S_ISREG(status.st_mode):
                stats[path] = (status.st_mtime_ns, status.st_size)
    return stats


def changed_files(before: Snapshot, after: Snapshot) -> list[pathlib.Path]:
    return sorted(path for path in before.keys() | after.keys()
                  if before.get(path) != after.get(path))


def is_within(path: pathlib.Path, deep: Iterable[pathlib.Path],
              flat: Iterable[pathlib.Path]) -> bool:
    return any(path.is_relative_to(folder) for folder in deep) or path.parent in set(flat)


def project_modules(deep: Iterable[pathlib.Path], flat: Iterable[pathlib.Path]) -> list[str]:
    """The names in sys.modules whose files live in the project's folders; never ``__main__``
    or a pinned module, and so never the standard library, requests or tools/."""
    deep, flat = list(deep), list(flat)
    names = []
    for name, module in list(sys.modules.items()):
        if name == "__main__" or name in PINNED_MODULES:
            continue
        filename = getattr(module, "__file__", None)
        if not filename:
            continue
        try:
            path = pathlib.Path(filename).resolve()
        except OSError:
            continue
        if is_within(path, deep, flat):
            names.append(name)
    return names


def forget_bytecode(paths: Iterable[pathlib.Path]) -> None:
    """A .pyc records its source's mtime in whole seconds: two saves within a second could
    leave the stale one looking current, so a changed file's cache goes."""
    for path in paths:
        if path.suffix == ".py":
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                pathlib.Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


# --- the reloading actions ---------------------------------------------------------------------

class ReloadingWebActions(WebActions):
    """The client's web actions, swapped by :meth:`reload` between requests; while the last
    reload failed, every request answers 500 naming the error."""

    def __init__(self, client: LocalClient, *, stderr: TextIO | None = None) -> None:
        super().__init__(client.actions, client.namespace)
        self.client = client
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stderr = stderr
        self.generation = 0  # how many reloads succeeded

    @property
    def root(self) -> pathlib.Path:
        return self.client.manifest_path.resolve().parent

    def folders(self) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
        return source_folders(self.client.actions, self.root)

    def files(self) -> list[pathlib.Path]:
        """What deploy.py watch watches (the manifest and its includes, .env, every file of
        each action, lib/), and the modules an action may import from beside it."""
        return watched_files(*self.folders(),
                             self.client.source.watched_files(self.client.manifest))

    def respond(self, request: WebRequest) -> WebResponse:
        with self._lock:
            if self.error is not None:
                return error_answer(500, self.error)
            try:
                return super().respond(request)
            except RunnerError as exc:  # a save the watcher has not seen yet broke an import
                return error_answer(500, known_secrets.mask(str(exc)))

    def reload(self, changed: Iterable[pathlib.Path] = ()) -> bool:
        """Re-read the manifest and .env, re-import the project's modules and swap them in; on
        failure, note and print the error. True when the actions now answer normally."""
        with self._lock:
            try:
                self._reload(list(changed))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: a save must never end the server
                self.error = known_secrets.mask(_describe(exc))
                self._print(f"reload failed: {self.error}")
                return False
            self.error = None
            self.generation += 1
        self._print(f"reloaded: {len(self.actions)} web action(s)")
        return True

    def _reload(self, changed: list[pathlib.Path]) -> None:
        old_folders = self.folders()
        self.client.reload()
        forget_bytecode(changed)
        new_folders = self.folders()
        for name in {*project_modules(*old_folders), *project_modules(*new_folders)}:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        fresh = WebActions(self.client.actions, self.client.namespace)
        for served in fresh.actions.values():
            load_entry_point(served.action)  # raises RunnerError naming the import's failure
        self.namespace, self.actions = fresh.namespace, fresh.actions

    def _print(self, line: str) -> None:
        stream = self._stderr or sys.stderr
        stream.write(line + "\n")
        stream.flush()


def _describe(exc: BaseException) -> str:
    if type(exc).__module__.startswith("tools.") and str(exc):  # our own errors say what
        return str(exc)
    return described(exc)


# --- the watcher -------------------------------------------------------------------------------

class FileWatcher:
    """Polls ``files()`` every ``interval`` seconds in a background thread and calls
    ``on_change(changed_paths)`` after a change; :meth:`stop` ends and joins the thread."""

    def __init__(self, files: Callable[[], list[pathlib.Path]],
                 on_change: Callable[[list[pathlib.Path]], object], *,
                 interval: float = POLL_SECONDS) -> None:
        self._files = files
        self._on_change = on_change
        self.interval = interval
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: Snapshot = {}

    def start(self) -> FileWatcher:
        self._seen = snapshot(self._files())
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name="FileWatcher", daemon=True)
        self._thread.start()
        return self

    def poll(self) -> list[pathlib.Path]:
        """One look at the files: the ones that changed since the last look (their callback
        has run when this returns)."""
        now = snapshot(self._files())
        changed = changed_files(self._seen, now)
        if changed:
            self._on_change(changed)
            # What the reload now watches (a new action, say); a file saved again during the
            # reload keeps its earlier state here, so the next look reloads once more.
            after = snapshot(self._files())
            self._seen = {path: now.get(path, stat) for path, stat in after.items()}
        return changed

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.poll()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the watcher outlives a bad look and a SystemExit
                sys.stderr.write(known_secrets.mask(f"watch: {described(exc)}") + "\n")

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> FileWatcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
