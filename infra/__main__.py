"""Pulumi entry point: ``pulumi up`` in this directory runs the TradAI program."""

from tradai_infra.program import main

main()
