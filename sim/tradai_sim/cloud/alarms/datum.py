"""A datapoint the local cloud publishes into CloudWatch on AWS's behalf (SQS, ALB metrics)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...]  # (name, value)
    timestamp: float  # simulated epoch seconds
    unit: str = "Count"
