"""``model-rollback``: return a strategy's alias to the version it pointed at before its last
move, through ``tradai.registry.promotion`` (the audit record names who and why).

Refusals are answers, not errors: an unknown strategy, an alias with no earlier version on
record (``NoEarlierVersion``), a request without a reason or a caller. The backend's rollback
route calls the same domain directly (no function hop in the request); this function serves
callers outside the backend (a drill, an operator's script, the Step Functions console).
"""

from __future__ import annotations

import re
from typing import Any

from tradai.authz import Principal
from tradai.registry.audit import AuditUnavailable, NoEarlierVersion
from tradai.registry.models import InvalidStrategyVersion, StrategyNotFound
from tradai.registry.promotion import Promotion
from tradai.retraining.settings import CHAMPION

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


def rollback(promotion: Promotion, event: dict[str, Any]) -> dict[str, Any]:
    strategy, alias = event.get("strategy"), event.get("alias") or CHAMPION
    reason, actor = event.get("reason"), event.get("actor")
    if not isinstance(strategy, str) or not _NAME.match(strategy):
        return refused(400, f"strategy must be a registered strategy's name, got {strategy!r}")
    if not isinstance(reason, str) or not reason.strip():
        return refused(400, "a rollback needs a reason (the audit record keeps it)")
    if not isinstance(actor, str) or not actor:
        return refused(400, "a rollback needs an actor: who asks for it")
    who = Principal(id=actor, name=event.get("actor_name") or actor,
                    roles=tuple(event.get("roles") or ()), permissions=frozenset())
    try:
        audit = promotion.rollback(strategy, str(alias), reason.strip(), who)
    except (StrategyNotFound, InvalidStrategyVersion) as exc:
        return refused(404, str(exc))
    except NoEarlierVersion as exc:
        return refused(409, exc.reason)
    except AuditUnavailable as exc:
        raise RuntimeError(f"{exc} (the alias of {strategy} may have moved: check its audit "
                           "log)") from exc
    return {"status": "rolled-back", "strategy": strategy, "alias": alias,
            "from_version": audit.from_version, "to_version": audit.to_version,
            "event": audit.model_dump()}


def refused(code: int, reason: str) -> dict[str, Any]:
    return {"status": "refused", "code": code, "reason": reason}
