"""Which user pool and app client tokens must come from.

Configured by ``TRADAI_COGNITO_USER_POOL_ID`` and ``TRADAI_COGNITO_CLIENT_ID`` (the one
runtime configuration, ``tradai.topology.runtime_config``, sets them on both sides); otherwise
looked up once by the spec's names (``edge.user_pool`` and ``edge.app_client``): a process
started by hand next to the local stack.
The key set is fetched from the configured AWS endpoint when there is one (the emulator serves
it at ``{endpoint}/{pool_id}/.well-known/jwks.json``), while the issuer is always the pool's
AWS URL, which is what Cognito and the emulator write into ``iss``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradai.settings import aws_client
from tradai.topology import default_topology
from tradai.topology.naming import physical_name


@dataclass(frozen=True)
class CognitoConfig:
    region: str
    user_pool_id: str
    client_id: str
    endpoint_url: str | None = None

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        base = self.endpoint_url.rstrip("/") if self.endpoint_url else self.issuer
        if self.endpoint_url:
            return f"{base}/{self.user_pool_id}/.well-known/jwks.json"
        return f"{base}/.well-known/jwks.json"


def discover_cognito(env: Mapping[str, str] | None = None,
                     idp: Any | None = None) -> CognitoConfig:
    env = os.environ if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-central-1"
    endpoint = env.get("AWS_ENDPOINT_URL") or None
    pool, client = env.get("TRADAI_COGNITO_USER_POOL_ID"), env.get("TRADAI_COGNITO_CLIENT_ID")
    if pool and client:
        return CognitoConfig(region, pool, client, endpoint)
    spec = default_topology()
    project, stage = env.get("TRADAI_PROJECT", spec.project), env.get("TRADAI_ENV", "local")
    pool_name = physical_name(project, stage, spec.edge.user_pool)
    client_name = physical_name(project, stage, spec.edge.app_client)
    idp = idp or aws_client("cognito-idp")
    pool = pool or _find(idp.list_user_pools(MaxResults=60)["UserPools"], "Name", pool_name,
                         "Id", f"user pool {pool_name}")
    client = client or _find(idp.list_user_pool_clients(UserPoolId=pool, MaxResults=60)[
        "UserPoolClients"], "ClientName", client_name, "ClientId", f"app client {client_name}")
    return CognitoConfig(region, pool, client, endpoint)


def _find(entries: list[dict[str, Any]], key: str, value: str, out: str, what: str) -> str:
    for e in entries:
        if e.get(key) == value:
            return str(e[out])
    raise LookupError(f"{what} not found")
