"""``python deploy.py``: render, build, deploy (the default) and undeploy.

Exit status 0 on success, 1 when the server refuses or a build fails, 2 for a
usage or configuration error, 130 on Ctrl-C; never a traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from tools.deploy import operations, scaffold
from tools.deploy.plan import BuildOptions
from tools.deploy.target import Connection, Target
from tools.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ManifestError, ToolError
from tools.manifest import MANIFEST_NAMES, default_manifest
from tools.params import add_arguments as request_params_arguments
from tools.params import request_params
from tools.project import ProjectSource
from tools.terminal import escape_controls


def parser() -> argparse.ArgumentParser:
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("--manifest", type=pathlib.Path, default=None,
                       help=f"the manifest (default: the first of {', '.join(MANIFEST_NAMES)})")
    files.add_argument("--env-file", type=pathlib.Path,
                       help="variables for $VAR in the manifest (default: .env, if present); "
                            "variables set in the shell win")
    files.add_argument("--deployment", type=pathlib.Path, metavar="FILE",
                       help="wskdeploy deployment file: its inputs and annotations override "
                            "the manifest's (default: deployment.yaml or deployment.yml beside "
                            "the manifest, if present)")
    vendoring = argparse.ArgumentParser(add_help=False)
    vendoring.add_argument("--vendor", action="store_true",
                           help="install requirements.txt into each zip (Linux x86_64 wheels "
                                "for the action's Python version)")
    vendoring.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                           help="extra argument for pip when vendoring, repeatable "
                                "(e.g. --pip-arg=--index-url=URL)")
    connection = argparse.ArgumentParser(add_help=False)  # where OpenWhisk is, and who we are
    connection.add_argument("--apihost", help="OpenWhisk API host (default: AIO_RUNTIME_APIHOST, "
                                              "else APIHOST in $WSK_CONFIG_FILE or ~/.wskprops)")
    connection.add_argument("--auth", help="AUTH key uuid:key (default: AIO_RUNTIME_AUTH, else "
                                           "AUTH in ~/.wskprops)")
    connection.add_argument("--namespace", help="namespace (default: AIO_RUNTIME_NAMESPACE, else "
                                                "NAMESPACE in ~/.wskprops, else your own)")
    connection.add_argument("--allow-http", action="store_true",
                            help="allow a plain http APIHOST off loopback (the AUTH key then "
                                 "crosses the network in clear)")
    target = argparse.ArgumentParser(add_help=False, parents=[connection])  # deploy, undeploy
    target.add_argument("--dry-run", action="store_true",
                        help="print the requests instead of sending them")

    top = argparse.ArgumentParser(
        prog="deploy.py",
        description="Deploy a project of Python actions to Apache OpenWhisk, and live with "
                    "it there: render, build, deploy, list, watch, invoke, logs, undeploy; new "
                    "adds an action. Without a command: deploy.")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    render = commands.add_parser(
        "render", parents=[files], help="print the resolved manifest",
        description="Print the manifest with every $VAR resolved. Values of keys whose name "
                    "says secret, password, token, key or auth are masked.")
    render.add_argument("--show-secrets", action="store_true", help="do not mask secrets")
    render.add_argument("--output", type=pathlib.Path, metavar="FILE",
                        help="write to FILE (mode 0600) instead of printing")
    build = commands.add_parser(
        "build", parents=[files, vendoring], help="build the action zips",
        description="Build one zip per action at OUT/<package>/<action>.zip. Each zip is then "
                    "loaded as the OpenWhisk runtime loads it, in a fresh interpreter: the "
                    "action's import-time code runs on this machine.")
    build.add_argument("--out", type=pathlib.Path, default=pathlib.Path("build"),
                       help="output folder (default: build)")
    deploy = commands.add_parser(
        "deploy", parents=[files, vendoring, target], help="deploy to OpenWhisk (default)",
        description="Bring the namespace to the manifest: packages and bindings, actions, "
                    "sequences, triggers and their feeds, rules. Each entity is read first and "
                    "sent only when it differs; what the project owns (whisk-managed) and the "
                    "manifest no longer has is deleted. Each zip is first loaded as the runtime "
                    "loads it, so the action's import-time code runs on this machine; "
                    "--dry-run and list run no project code. An entity that another project "
                    "owns is not overwritten without --adopt.",
        epilog="Ends with a summary such as '3 unchanged, 1 updated, 1 created, 1 pruned'.")
    deploy.add_argument("--project", metavar="NAME",
                        help="the project that owns what is deployed (default: project.name, "
                             "the App Builder app's name, else the manifest's folder name, "
                             "under which nothing is pruned)")
    deploy.add_argument("--force", action="store_true",
                        help="send every entity, changed or not")
    deploy.add_argument("--no-prune", dest="prune", action="store_false",
                        help="keep what the project owns and the manifest no longer has")
    deploy.add_argument("--no-adobe-auth", action="store_true",
                        help="deploy actions marked require-adobe-auth without it (only "
                             "Adobe I/O Runtime enforces it; their endpoints are then open)")
    deploy.add_argument("--adopt", action="store_true",
                        help="take over entities whose whisk-managed annotation names another "
                             "project (they become this project's)")
    undeploy = commands.add_parser(
        "undeploy", parents=[files, target], help="delete what the manifest or a project deployed",
        description="Delete the manifest's entities (rules, triggers with their feeds, "
                    "sequences, actions, bindings, packages); ones already gone are not an "
                    "error. With --project, delete everything that project owns, without "
                    "reading a manifest.")
    undeploy.add_argument("--project", metavar="NAME",
                          help="delete every entity whose whisk-managed annotation names NAME")
    reach = argparse.ArgumentParser(add_help=False, parents=[connection])  # list, watch
    reach.add_argument("--project", metavar="NAME",
                       help="the project that owns what is deployed (as for deploy)")
    listing = commands.add_parser(
        "list", parents=[files, vendoring, reach], help="what the project has deployed",
        description="List each entity of the project with its kind and whether the server "
                    "holds what the manifest asks for (the comparison the incremental deploy "
                    "makes): matches, differs, missing, or 'not in the manifest' for what the "
                    "project owns and the manifest no longer has. Web actions and sequences "
                    "get their URL. Nothing is written.")
    listing.set_defaults(dry_run=False)
    watching = commands.add_parser(
        "watch", parents=[files, vendoring, reach], help="deploy incrementally on every save",
        description="Deploy, then watch the manifest (and the files it includes), .env, each "
                    "action's code, lib/ and the included data files, and on every save deploy "
                    "again: only what differs is sent. One line per save says what was sent "
                    "and how long it took. Ctrl-C ends it.")
    watching.add_argument("--no-prune", dest="prune", action="store_false",
                          help="keep what the project owns and the manifest no longer has")
    watching.add_argument("--interval", type=float, default=0.3, help=argparse.SUPPRESS)
    watching.add_argument("--max-cycles", type=int, default=None, help=argparse.SUPPRESS)
    watching.set_defaults(dry_run=False)
    invoking = commands.add_parser(
        "invoke", parents=[files, connection], help="invoke an action and print its result",
        description="A blocking invocation: prints the result as JSON, then the activation id, "
                    "duration and status. Exit 1 on an application or developer error. One "
                    "that outlives the blocking wait is polled until it ends. With --web, call "
                    "the action's web URL instead and print status, headers and body.")
    invoking.add_argument("action", metavar="PKG/ACTION")
    request_params_arguments(invoking)
    invoking.add_argument("--web", action="store_true", help="call the web URL instead")
    invoking.add_argument("--method", default="GET", help="with --web (default: GET)")
    invoking.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                          help="with --web, repeatable")
    invoking.add_argument("--data", metavar="D", help="with --web: the request body")
    activation = commands.add_parser(
        "activation", parents=[files, connection], help="show one activation",
        description="Print an activation record, or only its logs or its result.")
    activation.add_argument("id", metavar="ID")
    shown = activation.add_mutually_exclusive_group()
    shown.add_argument("--logs", action="store_true", help="only its log lines")
    shown.add_argument("--result", action="store_true", help="only its result")
    logging_ = commands.add_parser(
        "logs", parents=[files, connection], help="the project's activations and their logs",
        description="The project's activations (or one action's), oldest first: id, start, "
                    "duration, status and log lines, our actions' JSON lines shown as 'time "
                    "level logger: message key=value'. --follow prints each new one once; "
                    "Ctrl-C ends it.")
    logging_.add_argument("entity", metavar="PKG/ACTION", nargs="?")
    logging_.add_argument("--limit", type=int, default=20, metavar="N",
                          help="the last N activations (default: 20)")
    logging_.add_argument("--since", metavar="WHEN",
                          help="epoch ms, an ISO 8601 time, or a duration ago (10m, 2h, 1d)")
    logging_.add_argument("--raw", action="store_true", help="log lines as stored")
    logging_.add_argument("--follow", "-f", action="store_true",
                          help="keep polling and print each new activation")
    new = commands.add_parser(
        "new", help="add an action: its code, its test and its manifest entry",
        description="Write actions/NAME/ (the action on lib's front door, and __main__.py so "
                    "that python -m actions.NAME runs it), tests/test_NAME_action.py (it runs "
                    "the action against the sandbox), and the action's entry in the manifest, "
                    "whose comments are kept.")
    new.add_argument("name", metavar="NAME", help="the action's name, a Python module name")
    new.add_argument("--package", metavar="P",
                     help="the manifest package to add it to, created if absent (default: the "
                          "manifest's only package)")
    new.add_argument("--manifest", type=pathlib.Path, default=None,
                     help=f"the manifest (default: the first of {', '.join(MANIFEST_NAMES)})")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or (words[0].startswith("-") and words[0] not in ("-h", "--help")):
        words.insert(0, "deploy")  # the default command
    args = parser().parse_args(words)
    try:
        return _run(args)
    except ToolError as exc:
        return _fail(args.command, exc, exc.exit_status)
    except OSError as exc:
        return _fail(args.command, exc, EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: still no traceback in the user's face
        return _fail(args.command, f"unexpected {type(exc).__name__}: {exc}", EXIT_FAILED)


def _run(args: argparse.Namespace) -> int:
    args.manifest = args.manifest or default_manifest()
    if args.command == "new":
        return _new(args)
    if args.command in ("list", "watch"):
        from tools.deploy import listing, watch

        return (listing if args.command == "list" else watch).main(args)
    source = ProjectSource.from_flags(args.manifest, args.env_file, args.deployment)
    env = source.env()
    if args.command in ("invoke", "activation", "logs"):
        return _activations(args, source, env)
    options = operations.Options(
        apihost=args.apihost, auth=args.auth, namespace=args.namespace, dry_run=args.dry_run,
        vendor=getattr(args, "vendor", False), pip_args=tuple(getattr(args, "pip_arg", ())),
        project=getattr(args, "project", None), force=getattr(args, "force", False),
        prune=getattr(args, "prune", True), allow_http=args.allow_http,
        adopt=getattr(args, "adopt", False),
        no_adobe_auth=getattr(args, "no_adobe_auth", False),
    ) if args.command in ("deploy", "undeploy") else None
    if args.command == "undeploy" and args.project:
        return operations.undeploy(None, env, options or operations.Options())
    # A zip holds code, not inputs: build needs no variable set.
    manifest = source.load(env, blank_unset=(lambda _: True) if args.command == "build" else None)
    if args.command == "render":
        return operations.render_manifest(manifest, env, show_secrets=args.show_secrets,
                                          output=args.output)
    if args.command == "build":
        return operations.build(manifest, args.out,
                                BuildOptions(args.vendor, tuple(args.pip_arg)))
    assert options is not None
    if args.command == "undeploy":
        return operations.undeploy(manifest, env, options)
    return operations.deploy(manifest, env, options)


def _activations(args: argparse.Namespace, source: ProjectSource, env: dict[str, str]) -> int:
    """``invoke``, ``activation`` or ``logs``: the manifest, when there is one, names the
    project's actions and the secrets to mask."""
    from tools.deploy import activations

    manifest = source.load(env) if args.manifest.is_file() else None
    if args.command == "logs" and manifest is None and not args.entity:
        raise ManifestError(f"{args.manifest}: no such file (or name an action: logs PKG/ACTION)")
    connection = Connection(apihost=args.apihost, auth=args.auth, namespace=args.namespace,
                            allow_http=args.allow_http)
    target = Target.find(env, manifest, connection)
    if args.command == "invoke":
        if args.web:
            return activations.web(target, args.action, method=args.method,
                                   headers=args.header, data=args.data)
        return activations.invoke(target, args.action,
                                  request_params(args.param, args.param_file))
    if args.command == "activation":
        part = "logs" if args.logs else "result" if args.result else ""
        return activations.show_activation(target, args.id, part)
    return activations.logs(target, args.entity, limit=args.limit, since=args.since,
                            raw=args.raw, follow=args.follow)


def _new(args: argparse.Namespace) -> int:
    new = scaffold.plan_new_action(args.manifest, args.name, args.package)
    written = scaffold.write_new_action(new)
    for line in scaffold.created_lines(new, written):
        print(line)
    return EXIT_OK


def _fail(command: str, problem: object, status: int) -> int:
    print(escape_controls(f"deploy.py {command}: error: {problem}"), file=sys.stderr)
    return status

