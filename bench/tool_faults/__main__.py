"""``python -m bench.tool_faults``: see bench.tool_faults.cli."""

import sys

from bench.tool_faults.cli import main

sys.exit(main())
