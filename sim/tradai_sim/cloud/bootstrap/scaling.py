"""Durations that live inside the emulator (SQS visibility, ASL waits and timeouts) take whole
seconds, so under a dilated clock they are scaled with rounding; each change is recorded so a
drill report can say which durations were scaled."""

from __future__ import annotations

from typing import Any

_ASL_DURATION_KEYS = ("TimeoutSeconds", "HeartbeatSeconds", "IntervalSeconds", "Seconds",
                      "MaxDelaySeconds")


def scale_seconds(seconds: float, scale: float) -> int:
    """Simulated seconds to the emulator's whole wall seconds (never below 1)."""
    return max(1, round(seconds / scale))


class ScaledDurations:
    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.records: list[dict[str, Any]] = []

    def seconds(self, what: str, seconds: float) -> int:
        scaled = seconds if self.scale == 1 else scale_seconds(seconds, self.scale)
        if scaled != seconds:
            self.records.append({"what": what, "simulated_s": seconds, "emulator_s": scaled,
                                 "effective_simulated_s": scaled * self.scale})
        return int(scaled)

    def asl(self, name: str, node: Any, path: str = "") -> Any:
        """A copy of an ASL document with its durations scaled."""
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                here = f"{path}.{k}" if path else k
                if k in _ASL_DURATION_KEYS and isinstance(v, int | float) and not isinstance(
                    v, bool
                ):
                    out[k] = self.seconds(f"{name}:{here}", v)
                else:
                    out[k] = self.asl(name, v, here)
            return out
        if isinstance(node, list):
            return [self.asl(name, v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node
