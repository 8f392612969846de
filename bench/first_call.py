"""Child process of bench.cold: a fresh interpreter imports the action and calls it once.

Reads the action's parameters as JSON on stdin (never on the command line,
where other users could read the secret) and prints the timings as JSON.
"""

from __future__ import annotations

import json
import sys
import time


def run() -> None:
    params = json.load(sys.stdin)
    start = time.perf_counter()
    from actions.generic import main  # imported here on purpose: this is what is timed

    imported = time.perf_counter()
    result = main(params)
    called = time.perf_counter()
    json.dump({"import_seconds": imported - start, "call_seconds": called - imported,
               "status": result.get("statusCode")}, sys.stdout)


if __name__ == "__main__":
    run()
