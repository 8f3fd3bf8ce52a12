"""The route state moto does not derive: a route whose NAT instance is stopped or terminated is
a ``blackhole``, as describe_route_tables shows it on AWS (EC2 API reference, ``Route``:
"the specified NAT instance has been terminated")."""

from __future__ import annotations

from typing import Any

DEAD_INSTANCE_STATES = ("stopping", "stopped", "shutting-down", "terminated")


def route_state(original: Any) -> property:
    """Wraps the ``Route.state`` property."""

    def state(self: Any) -> str:
        instance = getattr(self, "instance", None)
        if instance is not None and instance.state in DEAD_INSTANCE_STATES:
            return "blackhole"
        return str(original.fget(self))

    return PatchedProperty(state)


class PatchedProperty(property):
    """A property that can carry the patch bookkeeping (``__tradai_original__``)."""
