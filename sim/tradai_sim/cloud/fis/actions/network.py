"""``aws:network:disrupt-connectivity``: the network part denies the scope's traffic of the
targeted subnets for the duration."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection
from tradai_sim.cloud.fis.effectors import NETWORK, EffectorMissing, NetworkEffector, effector


class DisruptConnectivity(Injection):
    def start(self) -> None:
        try:
            self.network: NetworkEffector = effector(self.env.ctx, NETWORK)
        except EffectorMissing as exc:
            raise ActionFailed(str(exc)) from exc
        self.subnets = [r.id for r in self.env.resources("Subnets")]
        self.scope = self.env.param("scope") or "all"
        self.disruption = self.network.disrupt(self.subnets, self.scope,
                                               self.env.param("prefixListIdentifier"),
                                               self.env.label)
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        self.network.end_disruption(self.disruption)

    def detail(self) -> dict[str, Any]:
        return {"subnets": self.subnets, "scope": self.scope, "disruption": self.disruption}
