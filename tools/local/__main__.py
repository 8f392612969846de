"""``python -m tools.local ACTION``: run any action of the manifest locally, a single file too."""

if __name__ == "__main__":
    import sys

    from tools.local.cli import main

    sys.exit(main(None))
