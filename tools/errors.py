"""One root for every error a tool reports to its user, carrying the exit status.

A CLI catches :class:`ToolError` alone and exits with ``exit_status``; anything
else that escapes is a bug, reported without a traceback all the same.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the server refused, a build failed, or an action's result was an error
EXIT_USAGE = 2  # the command line, the manifest, the configuration or the credentials are wrong
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class ToolError(Exception):
    """Something the user can fix; the message says what and where."""

    exit_status = EXIT_USAGE


class UsageError(ToolError):
    """Bad command-line input."""


class ManifestError(ToolError):
    """Anything wrong with the manifest or its variables; the message names where."""
