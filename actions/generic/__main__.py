"""``python -m actions.generic``: run or serve this action locally (see tools/local/cli.py).

Never used in OpenWhisk, where the zip's root ``__main__.py`` is the entry point.
"""

if __name__ == "__main__":
    import sys

    from tools.local.cli import main

    sys.exit(main(__package__))
