"""The SNS log part: records what the stack's topics publish (from before the bootstrap) and
serves it at ``/_sim/sns/published`` for ``tradai-sim alerts`` and drill reports.

Query: ``topic`` (name, ARN or the end of the name: ``alerts``), ``since`` (simulated epoch
seconds), ``within`` (simulated seconds before now), ``after`` (a sequence number, for
followers). The answer carries ``last_seq`` (the newest message of any topic) and
``simulated_now``."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.sns_log import moto_hooks
from tradai_sim.cloud.sns_log.recorder import PublishedLog

LOG_KEY = "_sns_log"


def prepare(ctx: CloudContext) -> None:
    log = PublishedLog()
    ctx.resources[LOG_KEY] = log
    moto_hooks.install(log, ctx.clock)


class SnsLogPart:
    name = "sns-log"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.log: PublishedLog = ctx.resources[LOG_KEY]
        ctx.control_routes["/sns/published"] = self.route

    def start(self) -> None:
        pass  # recording began in prepare()

    def stop(self) -> None:
        moto_hooks.install(None, None)

    def route(self, body: dict[str, Any]) -> tuple[int, Any]:
        args = body.get("args", {})
        now = self.ctx.clock.now()
        try:
            since = float(args["since"]) if args.get("since") else None
            if args.get("within"):
                since = max(since or 0.0, now - float(args["within"]))
            after = int(args["after"]) if args.get("after") else None
        except ValueError:
            return 400, {"error": "since is simulated epoch seconds, within simulated seconds, "
                                  "after a sequence number"}
        items, last = self.log.page(topic=args.get("topic") or None, since=since, after=after)
        return 200, {"messages": [i.as_json() for i in items], "last_seq": last,
                     "simulated_now": now}

    def status(self) -> dict[str, Any]:
        return {"published": len(self.log.query()), "last_seq": self.log.last_seq}


def make_part(ctx: CloudContext, invoker: Any) -> SnsLogPart:
    return SnsLogPart(ctx)
