"""Where a task runs: spread over the AZs of its subnets, like Fargate's AZ-balanced spread."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable

from tradai_sim.cloud.ecs.models import Placement


class Placer:
    def __init__(self, zone_of: Callable[[str], str]) -> None:
        self._zone_of = zone_of
        self._zones: dict[str, str] = {}
        self._turn = itertools.count()

    def zone(self, subnet: str) -> str:
        if subnet not in self._zones:
            self._zones[subnet] = self._zone_of(subnet)
        return self._zones[subnet]

    def place(self, subnets: list[str], live_zones: Iterable[str | None]) -> Placement:
        """The subnet in the AZ with the fewest live tasks of the group; ties rotate."""
        if not subnets:
            return Placement(None, None)
        load = Counter(z for z in live_zones if z)
        start = next(self._turn)
        rotated = [subnets[(start + i) % len(subnets)] for i in range(len(subnets))]
        subnet = min(rotated, key=lambda s: load[self.zone(s)])
        return Placement(subnet, self.zone(subnet))
