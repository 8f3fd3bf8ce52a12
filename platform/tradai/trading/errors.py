"""Why a trading-session request is refused; the API maps each to its status code."""

from __future__ import annotations


class SessionRefused(Exception):
    """A request that cannot be served; ``status`` is the HTTP answer, ``reason`` says why."""

    status = 400

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class InvalidSession(SessionRefused):
    """Well-formed but wrong: unknown strategy, alias or version, live without keys (422)."""

    status = 422


class SessionNotFound(SessionRefused):
    """No such session for this caller; someone else's is as good as absent (404)."""

    status = 404


class SessionConflict(SessionRefused):
    """One already runs for this strategy and mode, or it is already stopped (409)."""

    status = 409


class TradingUnavailable(SessionRefused):
    """A dependency (registry, table, ECS, Secrets Manager) did not answer (503)."""

    status = 503
