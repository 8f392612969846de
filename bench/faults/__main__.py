"""``python -m bench.faults``: the fault tables, then the tools' (bench.tool_faults)."""

import sys

from bench.faults.cli import main

sys.exit(main())
