"""Request parameters from the command line, the same for ``deploy.py invoke`` and the local
runner: ``-p KEY VALUE`` (as ``wsk`` writes it) or ``-p KEY=VALUE``, and ``--param-file``
(``--params-file`` too) holding a JSON object, the ``-p`` pairs winning. A value that parses as
JSON is JSON (``-p n 3`` is the number 3), anything else is text.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

from tools.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser, *, file_flag: str = "--param-file") -> None:
    """``-p``/``--param`` and the parameter file, ``file_flag`` first among its spellings."""
    parser.add_argument("-p", "--param", nargs="+", action="append", default=[],
                        metavar="KEY VALUE",
                        help="a parameter, repeatable: KEY VALUE or KEY=VALUE; a VALUE that "
                             "parses as JSON is JSON; wins over the parameter file")
    spellings = [file_flag, *(flag for flag in ("--param-file", "--params-file")
                              if flag != file_flag)]
    parser.add_argument(*spellings, dest="param_file", type=pathlib.Path, metavar="FILE.json",
                        help="parameters from a JSON object")


def request_params(pairs: Iterable[Sequence[str]], param_file: pathlib.Path | None, *,
                   file_flag: str = "--param-file") -> dict[str, Any]:
    """The parameter file's object under the ``-p`` pairs."""
    params = read_param_file(param_file, file_flag) if param_file is not None else {}
    params.update(parse_param(pair) for pair in pairs)
    return params


def parse_param(pair: Sequence[str]) -> tuple[str, Any]:
    """``["KEY", "VALUE"]`` or ``["KEY=VALUE"]``; the value as JSON when it parses."""
    if len(pair) == 1:
        key, separator, value = pair[0].partition("=")
        if not separator or not key:
            raise UsageError(f"--param {pair[0]!r}: expected KEY=VALUE or KEY VALUE")
    elif len(pair) == 2:
        key, value = pair
    else:
        raise UsageError(f"--param {' '.join(pair)!r}: expected KEY VALUE or KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def read_param_file(path: pathlib.Path, flag: str = "--param-file") -> dict[str, Any]:
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path}: cannot read: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{flag} {path}: not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise UsageError(f"{flag} {path}: must hold a JSON object")
    return params
