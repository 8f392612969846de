"""Benchmarks of the action against the sandbox emulator: ``python -m bench --help``.

Developer tooling like tools/: never imported by the action, never in its zip.
"""
