"""``tradai:exchange:outage`` / ``:latency`` / ``:throttle``: the exchange simulator's fault
knobs (``POST {exchange}/_admin/faults``, see ``tradai_sim.exchange.faults``), set for the
duration and put back to what they were."""

from __future__ import annotations

from typing import Any

import requests

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection

EXCHANGE = "_exchange"
TIMEOUT_S = 5.0


class ExchangeFault(Injection):
    def knobs(self) -> dict[str, Any]:
        raise NotImplementedError

    def restore(self, before: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def start(self) -> None:
        info = self.env.ctx.resources.get(EXCHANGE)
        if not info:
            raise ActionFailed("the exchange simulator is not running in this cloud "
                               f"(ctx.resources[{EXCHANGE!r}] is not installed)")
        self.url = f"{info['url']}/_admin/faults"
        self.duration = self.env.seconds("duration")
        try:
            self.before = requests.get(self.url, timeout=TIMEOUT_S).json()
            self._post(self.knobs())
        except requests.RequestException as exc:
            raise ActionFailed(f"the exchange simulator did not take the fault: {exc}") from exc

    def end(self) -> None:
        self._post(self.restore(self.before))

    def _post(self, body: dict[str, Any]) -> None:
        r = requests.post(self.url, json=body, timeout=TIMEOUT_S)
        if r.status_code != 200:
            raise ActionFailed(f"exchange refused {body}: {r.status_code} {r.text[:200]}")

    def detail(self) -> dict[str, Any]:
        return {"set": self.knobs()}


class ExchangeOutage(ExchangeFault):
    def knobs(self) -> dict[str, Any]:
        return {"outage": True, "outage_mode": self.env.param("mode") or "503"}

    def restore(self, before: dict[str, Any]) -> dict[str, Any]:
        return {"outage": bool(before.get("outage", False)),
                "outage_mode": before.get("outage_mode", "503")}


class ExchangeLatency(ExchangeFault):
    def knobs(self) -> dict[str, Any]:
        return {"latency_ms": int(self.env.param("latencyMs") or 0)}

    def restore(self, before: dict[str, Any]) -> dict[str, Any]:
        return {"latency_ms": before.get("latency_ms", 0)}


class ExchangeThrottle(ExchangeFault):
    def knobs(self) -> dict[str, Any]:
        body: dict[str, Any] = {"force_429_for_seconds": self.duration or 0}
        if (retry := self.env.param("retryAfter")) is not None:
            body["retry_after"] = int(retry)
        return body

    def restore(self, before: dict[str, Any]) -> dict[str, Any]:
        return {"force_429_for_seconds": 0, "retry_after": before.get("retry_after")}
