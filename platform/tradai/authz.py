"""Who may do what: Cognito groups (the token's ``cognito:groups``) -> roles -> permissions.

The roles and their permissions are the topology spec's ``edge.roles``, so the backend, the
local gateway, ``tradai-sim up`` (one dev user per role) and the Pulumi program (one Cognito
group per role) read one table. A user may do the union of their roles' permissions; a token
without a known group gets ``edge.default_role``; an unknown group is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tradai.topology import Topology, default_topology

READ = "read"
BACKTEST_SUBMIT = "backtest:submit"
STRATEGY_REGISTER = "strategy:register"
SESSION_DRY_RUN = "session:dry-run"
SESSION_LIVE = "session:live"
REGISTRY_PROMOTE = "registry:promote"
DLQ_REPLAY = "dlq:replay"
FAULTS_INJECT = "faults:inject"
PERMISSIONS = (READ, BACKTEST_SUBMIT, STRATEGY_REGISTER, SESSION_DRY_RUN, SESSION_LIVE,
               REGISTRY_PROMOTE, DLQ_REPLAY, FAULTS_INJECT)
GROUPS_CLAIM = "cognito:groups"


class Forbidden(Exception):
    """403: the caller is known but may not do this; ``reason`` names the role needed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The caller: the token's subject and the roles its groups grant."""
    id: str  # the token's ``sub``: stable, never reused
    name: str | None
    roles: tuple[str, ...]
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class Authorizer:
    def __init__(self, topology: Topology | None = None) -> None:
        edge = (topology or default_topology()).edge
        self._roles = {r.name: frozenset(r.permissions) for r in edge.roles}
        self._default = edge.default_role
        unknown = {p for perms in self._roles.values() for p in perms} - set(PERMISSIONS)
        if unknown or self._default not in self._roles:
            raise ValueError(f"edge.roles: unknown permissions {sorted(unknown)} or default "
                             f"role {self._default!r}")

    @property
    def role_names(self) -> list[str]:
        return list(self._roles)

    def roles_of(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        groups = claims.get(GROUPS_CLAIM) or []
        if isinstance(groups, str):  # one group may arrive as a bare string
            groups = [groups]
        known = tuple(g for g in groups if isinstance(g, str) and g in self._roles)
        return known or (self._default,)

    def principal(self, sub: str, name: str | None, claims: Mapping[str, Any]) -> Principal:
        roles = self.roles_of(claims)
        perms = frozenset().union(*(self._roles[r] for r in roles))
        return Principal(sub, name, roles, perms)

    def roles_with(self, permission: str) -> list[str]:
        return [name for name, perms in self._roles.items() if permission in perms]

    def require(self, principal: Principal, permission: str, action: str) -> None:
        """Forbidden naming the roles that would allow ``action`` unless the caller may."""
        if principal.can(permission):
            return
        raise Forbidden(f"{action} needs the role {_either(self.roles_with(permission))}; "
                        f"you have {_both(principal.roles)}")


def _either(names: Iterable[str]) -> str:
    names = list(names)
    return " or ".join(names) if names else "(none defined)"


def _both(names: Iterable[str]) -> str:
    return ", ".join(names)


# -- the registry is written only through the platform -----------------------------------------
_WRITE_ROUTES = (
    ("/registered-models/alias", "POST /api/v1/strategies/{name}/aliases/{alias} "
                                 "(promotion) or POST /api/v1/strategies/{name}/rollback"),
    ("/model-versions/create", "POST /api/v1/strategies (register a version)"),
    ("/registered-models/create", "POST /api/v1/strategies (register a version)"),
)


def mlflow_write_refusal(path: str) -> str:
    """Why a write to MLflow through the gateway is refused, naming the API route to use."""
    route = next((r for suffix, r in _WRITE_ROUTES if path.rstrip("/").endswith(suffix)),
                 "POST /api/v1/strategies, POST /api/v1/strategies/{name}/aliases/{alias}, "
                 "POST /api/v1/strategies/{name}/rollback")
    return (f"MLflow is read-only through the gateway: the registry is written only through "
            f"the platform API, with its role check and audit record; use {route}")
