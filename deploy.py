"""Deploy this project's Python actions to Apache OpenWhisk: ``python deploy.py --help``.

A thin entry point; the commands live in tools/deploy/cli.py.
"""

import sys

from tools.deploy.cli import main

if __name__ == "__main__":
    sys.exit(main())
