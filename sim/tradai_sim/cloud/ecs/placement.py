"""Where a task runs: spread over the AZs of its subnets, like Fargate's AZ-balanced spread,
and only in AZs that have capacity (an AZ outage takes its subnets away)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable

from tradai_sim.cloud.ecs.models import Placement

# What RunTask answers when Fargate has no capacity in the request's subnets
# (https://repost.aws/knowledge-center/ecs-fargate-runtask-capacity).
NO_CAPACITY = ("Capacity is unavailable at this time. Please try again later or in a different "
               "availability zone")


class NoCapacity(Exception):
    """No subnet of the request is in an available AZ."""


class Placer:
    def __init__(self, zone_of: Callable[[str], str]) -> None:
        self._zone_of = zone_of
        self._zones: dict[str, str] = {}
        self._turn = itertools.count()

    def zone(self, subnet: str) -> str:
        if subnet not in self._zones:
            self._zones[subnet] = self._zone_of(subnet)
        return self._zones[subnet]

    def place(self, subnets: list[str], live_zones: Iterable[str | None],
              unavailable: Iterable[str] = ()) -> Placement:
        """The subnet in the AZ with the fewest live tasks of the group; ties rotate."""
        if not subnets:
            return Placement(None, None)
        down = set(unavailable)
        subnets = [s for s in subnets if self.zone(s) not in down]
        if not subnets:
            raise NoCapacity(NO_CAPACITY)
        load = Counter(z for z in live_zones if z)
        start = next(self._turn)
        rotated = [subnets[(start + i) % len(subnets)] for i in range(len(subnets))]
        subnet = min(rotated, key=lambda s: load[self.zone(s)])
        return Placement(subnet, self.zone(subnet))
