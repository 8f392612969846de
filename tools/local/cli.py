"""``python -m actions.<name>`` or ``python -m tools.local ACTION``: run an action once, or serve
the web actions, on this machine.

Every action's ``__main__.py`` calls :func:`main` with its own module; any other
action of the manifest, a single file included, runs through ``python -m
tools.local``. Exit codes: 0 for a success result, 1 for an error result, 2 for
a usage or configuration error. The result goes to stdout as JSON; logs go to
stderr. ``--sandbox`` swaps Adobe for the in-process emulator, so no
credentials and no ``.env`` are needed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lib.endpoints import is_loopback
from lib.redact import known_secrets
from tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ToolError, UsageError
from tools.local.client import DEFAULT_ENV_FILE, LocalClient
from tools.local.reload import FileWatcher, ReloadingWebActions
from tools.local.runner import load_entry_point
from tools.local.server import DEFAULT_PORT, WebActionServer
from tools.manifest import MANIFEST_NAMES, default_manifest
from tools.params import add_arguments as request_params_arguments
from tools.params import parse_param, read_param_file


@dataclass(frozen=True)
class Options:
    action: str  # a module, package/name or name
    manifest: pathlib.Path
    env_file: pathlib.Path | None
    params: dict[str, Any]
    serve: bool
    host: str
    port: int
    sandbox: bool
    watch: bool = False
    deployment: pathlib.Path | None = None  # wskdeploy's deployment file (None: discovered)


def parser(module: str | None) -> argparse.ArgumentParser:
    """The options; without ``module`` (``python -m tools.local``) the action is an argument."""
    cli = argparse.ArgumentParser(
        prog=f"python -m {module or 'tools.local'}",
        description="Run the action once with the parameters a deploy would give it (result "
                    "on stdout, logs on stderr), or serve the manifest's web actions locally.",
        epilog="Exit status: 0 success result, 1 error result, 2 usage or configuration error.",
    )
    if module is None:
        cli.add_argument("action", help="the action: package/name, name, or the module that "
                                        "holds its code")
    request_params_arguments(cli, file_flag="--params-file")
    cli.add_argument("--manifest", type=pathlib.Path,
                     help=f"the deployment manifest (default: the first of "
                          f"{', '.join(MANIFEST_NAMES)})")
    cli.add_argument("--env-file", type=pathlib.Path,
                     help=f"variables for the manifest's $VARs (default: {DEFAULT_ENV_FILE} "
                          "if present); the shell's variables win")
    cli.add_argument("--deployment", type=pathlib.Path, metavar="FILE",
                     help="wskdeploy deployment file: its inputs and annotations override the "
                          "manifest's (default: deployment.yaml or .yml beside the manifest, "
                          "if present)")
    cli.add_argument("--serve", action="store_true",
                     help="serve every web action of the manifest at "
                          "/api/v1/web/<namespace>/<package>/<action> until Ctrl-C")
    cli.add_argument("--host", default="127.0.0.1", help="with --serve (default: %(default)s)")
    cli.add_argument("--port", type=int, default=DEFAULT_PORT,
                     help="with --serve (default: %(default)s; 0 picks a free port)")
    cli.add_argument("--watch", action="store_true",
                     help="with --serve: reload the actions within a second when their code, "
                          "lib/, the manifest or .env changes (same port; an import error "
                          "answers 500 until fixed)")
    cli.add_argument("--sandbox", action="store_true",
                     help="call an in-process emulator of Adobe IMS and AEM with sandbox "
                          "credentials instead of Adobe (no credentials or .env needed)")
    return cli


def parse_options(module: str | None, argv: Sequence[str] | None) -> Options:
    """The options; argparse itself exits 2 on malformed arguments and 0 after --help."""
    cli = parser(module)
    args = cli.parse_args(argv)
    if args.serve and (args.param or args.param_file):
        cli.error("--param and --params-file are for a single run; with --serve, send them "
                  "in the request")
    if not args.serve and (args.host != "127.0.0.1" or args.port != DEFAULT_PORT):
        cli.error("--host and --port go with --serve")
    if args.watch and not args.serve:
        cli.error("--watch goes with --serve")
    if not 0 <= args.port <= 65535:
        cli.error(f"--port must be from 0 to 65535, not {args.port}")
    if args.env_file is not None and not args.env_file.is_file():
        cli.error(f"--env-file {args.env_file}: no such file")
    params = read_param_file(args.param_file, "--params-file") if args.param_file else {}
    try:
        params.update(parse_param(pair) for pair in args.param)
    except UsageError as exc:
        cli.error(str(exc))
    return Options(
        action=module or args.action,
        manifest=args.manifest or default_manifest(),
        env_file=args.env_file if args.env_file is not None else DEFAULT_ENV_FILE,
        params=params,
        serve=args.serve,
        host=args.host,
        port=args.port,
        sandbox=args.sandbox,
        watch=args.watch,
        deployment=args.deployment,
    )


def run_once(client: LocalClient, options: Options) -> int:
    """One activation; its result on stdout, with every secret-named input's value masked."""
    activation = client.invoke(options.action, options.params)
    text = json.dumps(activation.result, indent=2, ensure_ascii=False)
    sys.stdout.write(known_secrets.mask(text) + "\n")
    return EXIT_OK if activation.ok else EXIT_FAILED


def serve(client: LocalClient, options: Options) -> int:
    reloading = ReloadingWebActions(client) if options.watch else None
    server = WebActionServer(client.actions, client.namespace, host=options.host,
                             port=options.port, web_actions=reloading)
    if not server.web_actions.actions:
        raise UsageError(f"{options.manifest}: no action is a web action (web: yes or raw)")
    for served in server.web_actions.actions.values():
        load_entry_point(served.action)  # an action that cannot import stops us here
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {options.host}:{options.port}: {exc}") from None
    lines = ["Serving web actions (Ctrl-C stops):", *(f"  {url}" for url in server.action_urls())]
    lines += [f"Not served here: {action.qualified_name} ({action.kind} runs only on OpenWhisk)"
              for action in client.not_run_here() if action.web != "no"]
    if not is_loopback(options.host):
        lines.append(f"Warning: {options.host} is reachable from other machines, and the "
                     "actions run with this machine's credentials.")
    watcher = FileWatcher(reloading.files, reloading.reload) if reloading is not None else None
    try:
        if watcher is not None:
            watcher.start()  # before the message: a save made after it is seen
            lines.append("Watching the actions, lib/, the manifest and .env: a save reloads "
                         "them.")
        sys.stderr.write("\n".join(lines) + "\n")
        wait_until_interrupted()
    finally:
        if watcher is not None:
            watcher.stop()
        server.stop()
    return EXIT_OK


def wait_until_interrupted() -> None:
    """Block until Ctrl-C (SIGINT)."""
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def main(module: str | None, argv: Sequence[str] | None = None) -> int:
    """Run ``module``'s action (or the one named in ``argv`` when ``module`` is None), or serve
    the web actions; the exit status."""
    try:
        options = parse_options(module, argv)
        with LocalClient(options.manifest, options.env_file, sandbox=options.sandbox,
                         deployment=options.deployment) as client:
            client.action(options.action)  # an unknown action stops us before serving
            return serve(client, options) if options.serve else run_once(client, options)
    except ToolError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
