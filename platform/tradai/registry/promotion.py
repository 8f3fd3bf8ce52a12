"""Promotion and rollback: moving an alias of a strategy (which decides what live sessions that
follow it trade, through their hot swap), always with an audit record.

The record is written after the move: a failed move leaves no record, and a record that cannot
be written after a move is reported (503) with the move named, so an operator can see it.
"""

from __future__ import annotations

from typing import Any, Protocol

from tradai.authz import Principal
from tradai.registry.audit import PROMOTE, REGISTER, ROLLBACK, AuditEvent, AuditLog
from tradai.registry.models import StrategyDetail, StrategyNotFound


class WritableRegistry(Protocol):
    def fresh_strategy(self, name: str) -> StrategyDetail: ...

    def set_alias(self, name: str, alias: str, version: int) -> None: ...


class AliasUnchanged(Exception):
    """409: the alias already points at that version."""


class Promotion:
    def __init__(self, registry: WritableRegistry, audit: AuditLog) -> None:
        self.registry, self.audit = registry, audit

    def promote(self, name: str, alias: str, version: int, reason: str,
                who: Principal) -> AuditEvent:
        detail = self.registry.fresh_strategy(name)
        if version not in {v.version for v in detail.versions}:
            raise StrategyNotFound(f"{name} has no version {version}")
        current = detail.aliases.get(alias)
        if current == version:
            raise AliasUnchanged(f"{name}@{alias} already points at v{version}")
        self.registry.set_alias(name, alias, version)
        return self.audit.record(**_fields(name, PROMOTE, alias, current, version, reason, who))

    def rollback(self, name: str, alias: str, reason: str, who: Principal) -> AuditEvent:
        detail = self.registry.fresh_strategy(name)
        current = detail.aliases.get(alias)
        move = self.audit.rollback_target(name, alias, current)
        target = int(move.from_version or 0)
        self.registry.set_alias(name, alias, target)
        return self.audit.record(**_fields(name, ROLLBACK, alias, current, target, reason, who),
                                 undoes=move.event_id)

    def registered(self, name: str, version: int, aliases: list[str],
                   before: dict[str, int], reason: str | None, who: Principal) -> None:
        """A registration through the API: one record per alias it set (or one without)."""
        for alias in aliases or [None]:
            self.audit.record(**_fields(name, REGISTER, alias,
                                        before.get(alias) if alias else None, version, reason,
                                        who))


def _fields(name: str, action: str, alias: str | None, before: int | None, after: int,
            reason: str | None, who: Principal) -> dict[str, Any]:
    return {"strategy": name, "action": action, "alias": alias, "from_version": before,
            "to_version": after, "reason": reason, "actor": who.id, "actor_name": who.name,
            "roles": list(who.roles)}
