"""The SNS log part: records what the stack's topics publish (from before the bootstrap) and
serves it at ``/_sim/sns/published?topic=NAME&since=SIM_EPOCH&after=SEQ`` for
``tradai-sim alerts`` and drill reports."""

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
        self.log: PublishedLog = ctx.resources[LOG_KEY]
        ctx.control_routes["/sns/published"] = self.route

    def start(self) -> None:
        pass  # recording began in prepare()

    def stop(self) -> None:
        moto_hooks.install(None, None)

    def route(self, body: dict[str, Any]) -> tuple[int, Any]:
        args = body.get("args", {})
        try:
            since = float(args["since"]) if args.get("since") else None
            after = int(args["after"]) if args.get("after") else None
        except ValueError:
            return 400, {"error": "since is simulated epoch seconds, after a sequence number"}
        items = self.log.query(topic=args.get("topic") or None, since=since, after=after)
        return 200, {"messages": [i.as_json() for i in items]}

    def status(self) -> dict[str, Any]:
        items = self.log.query()
        return {"published": len(items), "last_seq": items[-1].seq if items else 0}


def make_part(ctx: CloudContext, invoker: Any) -> SnsLogPart:
    return SnsLogPart(ctx)
