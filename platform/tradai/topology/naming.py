"""Physical resource names from logical ones: one rule for the local cloud and for AWS."""

from __future__ import annotations


def physical_name(project: str, env: str, name: str) -> str:
    """``backtest-queue.fifo`` -> ``tradai-dev-backtest-queue.fifo`` (the suffix stays last)."""
    return f"{project}-{env}-{name}"
