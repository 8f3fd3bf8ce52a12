"""Who calls, and what their policies say: access key -> assumed role -> its policy documents.

The source is moto's own state, as AWS's is its own: the access key is one STS issued when the
role was assumed (moto's STS backend keeps the assumed-role credentials), the role's inline
policies and its attached managed policies' default versions are in moto's IAM backend.

A key STS never issued for a role (the harness's static ``testing`` key, an IAM user's key) has
no principal here: such callers are administrators and are not judged.

Caching: the key -> role lookup is kept until any IAM write (``invalidate``; a role deleted and
created again is another object). Compiled statements are kept per tuple of policy documents,
read from the role on every request (a few dict reads), so a ``put_role_policy`` takes effect
on the very next request whatever the ordering of the write and the cache clearing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.iam_enforcement.evaluator import Statement, parse_policy


@dataclass(frozen=True)
class Principal:
    role_name: str
    role_arn: str
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, as AWS names the caller
    _role: Any  # moto's Role (its policies are read on each request)


def policy_documents(role: Any) -> tuple[str, ...]:
    """The role's inline policies and its attached managed policies' default versions."""
    docs = [str(d) for d in role.policies.values()]
    for policy in role.managed_policies.values():
        docs.extend(str(v.document) for v in policy.versions
                    if v.version_id == policy.default_version_id)
    return tuple(docs)


class Principals:
    def __init__(self, account_id: str, partition: str = "aws") -> None:
        self.account_id = account_id
        self.partition = partition
        self._lock = threading.Lock()
        self._by_key: dict[str, Principal | None] = {}
        self._compiled: dict[tuple[str, ...], tuple[Statement, ...]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._by_key.clear()

    def resolve(self, access_key: str) -> Principal | None:
        found = self._by_key.get(access_key, False)
        if found is False:
            found = self._lookup(access_key)
            if found is not None:  # an unknown key may be issued later: look again then
                with self._lock:
                    self._by_key[access_key] = found
        return found  # type: ignore[return-value]

    def statements(self, principal: Principal) -> tuple[Statement, ...]:
        docs = policy_documents(principal._role)
        compiled = self._compiled.get(docs)
        if compiled is None:
            compiled = tuple(st for doc in docs for st in parse_policy(doc))
            with self._lock:
                if len(self._compiled) > 1024:  # documents of deleted roles: start over
                    self._compiled.clear()
                self._compiled[docs] = compiled
        return compiled

    def _lookup(self, access_key: str) -> Principal | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        assumed = None
        for backend in sts_backends[self.account_id].values():
            assumed = backend.get_assumed_role_from_access_key(access_key)
            if assumed is not None:
                break
        if assumed is None:
            return None
        role_arn = str(assumed.role_arn)
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            role = iam_backends[self.account_id][self.partition].get_role(role_name)
        except Exception:  # the role was deleted: its sessions hold no permissions
            role = _NoRole()
        return Principal(role_name, role_arn,
                         f"arn:{self.partition}:sts::{self.account_id}:assumed-role/"
                         f"{role_name}/{assumed.session_name}", role)


class _NoRole:
    policies: dict[str, str] = {}
    managed_policies: dict[str, Any] = {}
