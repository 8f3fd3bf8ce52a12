"""Bringing the local stack up and down, and reading its state, for the ``tradai-sim`` CLI."""
