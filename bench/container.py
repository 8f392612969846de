"""Child process: one cold OpenWhisk container. A fresh interpreter imports the action, prints
``ready``, waits for its parameters (JSON on stdin, never the command line, where other users
could read the secret), invokes it once and prints what happened as JSON.

Waiting for stdin is what lets bench.fleet start many containers at once: each has imported
the action before any of them is invoked.
"""

from __future__ import annotations

import json
import sys
import time


def run() -> None:
    start = time.perf_counter()
    from actions.generic import main  # imported here on purpose: this is what is timed

    imported = time.perf_counter()
    print("ready", flush=True)
    params = json.loads(sys.stdin.readline())
    called = time.perf_counter()
    result = main(params)
    done = time.perf_counter()
    error = result.get("error") or {}
    print(json.dumps({"import_seconds": imported - start, "call_seconds": done - called,
                      "status": result.get("statusCode") or error.get("statusCode")}),
          flush=True)


if __name__ == "__main__":
    run()
