"""The generic action; OpenWhisk calls :func:`main`."""

from actions.generic.action import main

__all__ = ["main"]
