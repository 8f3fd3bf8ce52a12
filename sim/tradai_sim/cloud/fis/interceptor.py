"""The request interceptor in front of moto (``emulator.request_interceptors``): a call made
with the credentials of an IAM role that an API-error rule targets, to a targeted operation,
is answered with that service's error instead of reaching moto.

The caller's role is found as AWS knows it: the access key is one that STS issued when the
role was assumed (moto's STS backend keeps the assumed-role credentials)."""

from __future__ import annotations

import logging
from typing import Any

from tradai_sim.cloud.aws_requests import request_info
from tradai_sim.cloud.aws_requests.wire import UnknownService, service_wire
from tradai_sim.cloud.fis.api_faults import ApiFaultRules

log = logging.getLogger(__name__)


def assumed_role_of(account_id: str, access_key: str) -> str | None:
    """The role ARN whose assumed credentials ``access_key`` is, if any."""
    from moto.sts.models import sts_backends

    for partition_backend in sts_backends[account_id].values():
        role = partition_backend.get_assumed_role_from_access_key(access_key)
        if role is not None:
            return str(role.role_arn)
    return None


class ApiFaultInterceptor:
    def __init__(self, rules: ApiFaultRules, account_id: str) -> None:
        self.rules = rules
        self.account_id = account_id
        self._roles: dict[str, str | None] = {}  # access key -> role ARN (keys never change)

    def __call__(self, environ: dict[str, Any]) -> Any:
        """A WSGI app answering the error, or None to let moto serve the request."""
        if not self.rules.active():
            return None
        try:
            return self._intercept(environ)
        except Exception:  # a broken rule must never take the emulator down
            log.exception("API fault interceptor failed; the request goes to moto")
            return None

    def _intercept(self, environ: dict[str, Any]) -> Any:
        who = request_info.caller(environ)
        if who is None:
            return None
        role = self._role(who.access_key)
        if role is None or role not in self.rules.roles():
            return None
        try:
            wire = service_wire(who.service)
        except UnknownService:
            return None
        protocol = request_info.request_protocol(environ, wire.protocol)
        operation = request_info.operation(environ, protocol, wire.service_name)
        rule = self.rules.match(role, who.service, operation)
        if rule is None:
            return None
        log.info("FIS %s: %s error for %s %s.%s", rule.label, rule.kind, role, who.service,
                 operation)
        return wire.response(rule.kind, f"{wire.errors[rule.kind].code}: injected by AWS FIS "
                                        f"({rule.label})", protocol)

    def _role(self, access_key: str) -> str | None:
        if access_key not in self._roles or self._roles[access_key] is None:
            # A key not (yet) known may be assumed later: look again next time.
            self._roles[access_key] = assumed_role_of(self.account_id, access_key)
        return self._roles[access_key]
