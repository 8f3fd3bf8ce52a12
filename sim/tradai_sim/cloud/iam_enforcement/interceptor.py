"""The request interceptor in front of moto that authorises every call made with a role's
credentials against that role's policies, as AWS does, before moto serves it.

Callers whose key is not an assumed role's (the harness's static ``testing`` key: bootstrap,
control plane, Step Functions interpreter, drills, tests) are administrators and pass
unjudged. Modes (``TRADAI_SIM_IAM``): ``enforce`` answers a denied call with the service's
access-denied error; ``audit`` judges and records, and lets the call through; ``off`` judges
nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from typing import Any

from tradai_sim.cloud.aws_requests import request_info
from tradai_sim.cloud.aws_requests.wire import UnknownService, service_wire
from tradai_sim.cloud.iam_enforcement.actions import (
    Check,
    Mapped,
    Request,
    action_name,
    map_request,
    query_params,
)
from tradai_sim.cloud.iam_enforcement.denial import access_denied, message
from tradai_sim.cloud.iam_enforcement.evaluator import evaluate
from tradai_sim.cloud.iam_enforcement.lookups import Lookups
from tradai_sim.cloud.iam_enforcement.principals import Principal, Principals

log = logging.getLogger(__name__)

MODE_ENV = "TRADAI_SIM_IAM"
MODES = ("enforce", "audit", "off")
DEFAULT_MODE = "enforce"  # every local role carries its spec policy, as deployed
JSON_BODY_LIMIT = 16 << 20  # DynamoDB's largest request; larger bodies are not read
MAX_RECORDS = 2000  # distinct entries kept per kind


def mode_from_env() -> str:
    mode = os.environ.get(MODE_ENV, DEFAULT_MODE).strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class Records:
    """What was judged: counts, each distinct denial, each thing that could not be judged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.actions: Counter[tuple[str, str]] = Counter()  # (role, action) judged
        self.denials: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.unjudged: dict[tuple[str, str, str], dict[str, Any]] = {}

    def count(self, kind: str) -> None:
        self.counts[kind] += 1  # Counter increments are atomic enough for statistics

    def judged(self, role: str, action: str) -> None:
        if len(self.actions) < MAX_RECORDS or (role, action) in self.actions:
            self.actions[(role, action)] += 1

    def denial(self, principal: Principal, check: Check, outcome: str, enforced: bool) -> None:
        key = (principal.role_name, check.action, check.resource)
        with self._lock:
            entry = self.denials.get(key)
            if entry is None:
                if len(self.denials) >= MAX_RECORDS:
                    return
                entry = self.denials[key] = {
                    "role": principal.role_name, "action": check.action,
                    "resource": check.resource, "outcome": outcome, "enforced": enforced,
                    "count": 0, "first_at": time.time(),
                    "message": message(principal.arn, check.action, check.resource, outcome)}
                log.warning("IAM %s: %s", "denied" if enforced else "would deny (audit)",
                            entry["message"])
            entry["count"] += 1

    def cannot_judge(self, role: str, action: str, reason: str) -> None:
        key = (role, action, reason)
        with self._lock:
            entry = self.unjudged.get(key)
            if entry is None:
                if len(self.unjudged) >= MAX_RECORDS:
                    return
                entry = self.unjudged[key] = {"role": role, "action": action,
                                              "reason": reason, "count": 0}
                log.warning("IAM cannot judge %s for %s: %s (allowed and recorded)", action,
                            role, reason)
            entry["count"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_role: dict[str, dict[str, int]] = {}
            for (role, action), n in sorted(self.actions.items()):
                by_role.setdefault(role, {})[action] = n
            return {"counts": dict(self.counts), "judged_by_role": by_role,
                    "denials": list(self.denials.values()),
                    "unjudged": list(self.unjudged.values())}

    def clear(self) -> None:
        with self._lock:
            self.counts.clear()
            self.actions.clear()
            self.denials.clear()
            self.unjudged.clear()


def _is_iam_write(service: str, operation: str | None) -> bool:
    return service == "iam" and not (operation or "").startswith(("Get", "List", "Simulate"))


class IamEnforcer:
    def __init__(self, account_id: str, mode: str = DEFAULT_MODE) -> None:
        if mode not in MODES:
            raise ValueError(f"IAM mode {mode!r}: expected one of {', '.join(MODES)}")
        self.account_id = account_id
        self.mode = mode
        self.principals = Principals(account_id)
        self.lookups = Lookups(account_id)
        self.records = Records()

    def __call__(self, environ: dict[str, Any]) -> Any:
        """A WSGI app answering AccessDenied, or None to let moto serve the request."""
        if self.mode == "off":
            return None
        try:
            return self._judge(environ)
        except Exception:  # a bug here must never take the emulator down
            log.exception("IAM enforcement failed; the request goes to moto unjudged")
            self.records.count("errors")
            return None

    def _judge(self, environ: dict[str, Any]) -> Any:
        who = request_info.caller(environ)
        if who is None:
            return None
        try:
            wire = service_wire(who.service)
        except UnknownService:
            wire = None
        protocol = request_info.request_protocol(environ, wire.protocol) if wire else ""
        principal = self.principals.resolve(who.access_key)
        if principal is None and who.service != "iam":
            return None  # an administrator's key (the harness): not judged
        req = self._request(environ, who, wire, protocol)
        if req is not None and _is_iam_write(who.service, req.operation):
            self.principals.invalidate()
        if principal is None:
            return None
        self.records.count("judged")
        if req is None or wire is None:
            self.records.count("unjudged")
            self.records.cannot_judge(principal.role_name, f"{who.service}:?",
                                      "operation not read from the request")
            return None
        mapped = map_request(req, self.lookups)
        return self._decide(principal, req, mapped, wire, protocol)

    def _decide(self, principal: Principal, req: Request, mapped: Mapped, wire: Any,
                protocol: str) -> Any:
        if mapped.unresolved:
            self.records.count("unjudged")
            self.records.cannot_judge(principal.role_name,
                                      action_name(req.service, req.operation),
                                      mapped.unresolved)
            return None
        statements = self.principals.statements(principal)
        for check in mapped.checks:
            decision = evaluate(statements, check.action, check.resource, _Known(check))
            self.records.judged(principal.role_name, check.action)
            for reason in decision.unjudged:
                self.records.cannot_judge(principal.role_name, check.action, reason)
            if decision.allowed:
                continue
            enforced = self.mode == "enforce"
            self.records.count("denied")
            self.records.denial(principal, check, decision.outcome, enforced)
            if enforced:
                return access_denied(wire, protocol, principal.arn, check.action,
                                     check.resource, decision.outcome)
            return None
        self.records.count("allowed")
        return None

    def _request(self, environ: dict[str, Any], who: request_info.Caller, wire: Any,
                 protocol: str) -> Request | None:
        region = who.region or "us-east-1"
        if wire is None:
            return None
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items()
                   if k.startswith("HTTP_")}
        if protocol in ("rest-json", "rest-xml"):
            return self._rest(environ, who.service, wire.service_name, region, headers)
        operation = request_info.operation(environ, protocol, wire.service_name)
        if operation is None:
            return None
        params: dict[str, Any] = {}
        if protocol == "json":
            raw = request_info.body(environ, JSON_BODY_LIMIT)
            params = json.loads(raw) if raw else {}
        elif protocol == "smithy-rpc-v2-cbor":
            params = _cbor(request_info.body(environ, JSON_BODY_LIMIT))
        elif protocol in ("query", "ec2"):
            form = "form-urlencoded" in environ.get("CONTENT_TYPE", "")
            params = query_params(environ.get("QUERY_STRING", ""),
                                  request_info.body(environ) if form else None)
        return Request(who.service, operation, region, self.account_id,
                       params if isinstance(params, dict) else {}, headers)

    def _rest(self, environ: dict[str, Any], service: str, service_name: str, region: str,
              headers: dict[str, str]) -> Request | None:
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        if service == "s3":
            bucket = _virtual_host_bucket(environ.get("HTTP_HOST", ""))
            if bucket:
                path = f"/{bucket}{path}"
        found = request_info.rest_match(service_name, environ.get("REQUEST_METHOD", "GET"),
                                        path, query)
        if found is None:
            return None
        operation, labels = found
        if operation in _COPIES and "x-amz-copy-source" not in headers:
            operation = _COPIES[operation]  # same route; only the header tells them apart
        params: dict[str, Any] = query_params(query, None)
        params.update(labels)
        return Request(service, operation, region, self.account_id, params, headers,
                       lambda: request_info.body(environ, JSON_BODY_LIMIT))

    # -- control API ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.records.snapshot()}

    def route(self, body: dict[str, Any]) -> tuple[int, Any]:
        """GET: mode, counts, denials, what could not be judged. POST {"mode": ...} switches
        the mode; POST {"clear": true} forgets what was recorded."""
        if body.get("method") == "POST":
            mode = body.get("mode")
            if mode is not None:
                if mode not in MODES:
                    return 400, {"error": f"mode must be one of {', '.join(MODES)}"}
                log.info("IAM enforcement mode %s -> %s", self.mode, mode)
                self.mode = mode
            if body.get("clear"):
                self.records.clear()
        elif body.get("method") not in ("GET", "HEAD"):
            return 405, {"error": "GET or POST"}
        return 200, self.status()


_COPIES = {"CopyObject": "PutObject", "UploadPartCopy": "UploadPart"}


class _Known(dict):  # type: ignore[type-arg]
    """A check's condition context: its own keys, plus every key under its known prefixes
    (resource tags) as absent."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.context)
        self.prefixes = check.known_prefixes

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (
            isinstance(key, str) and key.startswith(self.prefixes) and bool(self.prefixes))

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


def _virtual_host_bucket(host: str) -> str | None:
    """``bucket.s3.<region>.amazonaws.com`` / ``bucket.localhost``: the bucket; else None."""
    name = host.split(":", 1)[0]
    for marker in (".s3.", ".s3-", ".localhost"):
        if marker in name:
            head = name.split(marker, 1)[0]
            return head or None
    return None


def _cbor(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    value = parser.parse_data_item(parser.get_peekable_stream_from_bytes(raw))
    return value if isinstance(value, dict) else {}
