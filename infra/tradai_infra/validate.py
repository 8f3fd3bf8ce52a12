"""Prove, before any resource is declared, that every spec entry maps onto AWS here."""

from __future__ import annotations

import importlib.util

from tradai.topology import Topology
from tradai.workflows.render import load_asl, placeholders
from tradai_infra.config import StackSettings
from tradai_infra.edge import WAF_WINDOWS
from tradai_infra.errors import InfraConfigError, SpecMappingError
from tradai_infra.functions import MAPPED_TRIGGERS
from tradai_infra.mlflow_access import check_mlflow
from tradai_infra.monitoring import SUPPORTED_ALARM_NAMESPACES
from tradai_infra.nat import _EVENT_DETAIL_TYPES
from tradai_infra.network import DATABASE_CLIENTS, PEER_FLOWS
from tradai_infra.permissions import check_access
from tradai_infra.secret_values import check_secrets
from tradai_infra.storage import check_bucket_names

HTTP_METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ASL_GLOBALS = ("Cluster", "PrivateSubnets", "StrategySecurityGroups")
WAF_MIN_LIMIT = 10
SUPPORTED_ENGINES = ("postgres",)  # the database security group opens 5432 only


def validate(topo: Topology, settings: StackSettings) -> None:
    if len(settings.azs) != len(topo.network.azs):
        raise InfraConfigError(
            f"tradai:availabilityZones lists {len(settings.azs)} zones but the topology spec's "
            f"network.azs has {len(topo.network.azs)}"
        )
    _triggers(topo)
    _edge(topo)
    _state_machines(topo)
    _network(topo)
    for alarm in topo.alarms:
        if alarm.namespace not in SUPPORTED_ALARM_NAMESPACES:
            raise SpecMappingError(f"alarms[{alarm.name!r}].namespace {alarm.namespace!r} is not "
                                   f"supported (known: {', '.join(SUPPORTED_ALARM_NAMESPACES)})")
    if topo.database.engine not in SUPPORTED_ENGINES:
        raise SpecMappingError(f"database.engine {topo.database.engine!r} is not supported "
                               f"(known: {', '.join(SUPPORTED_ENGINES)})")
    check_access(topo)
    check_secrets(topo)
    check_mlflow(topo)
    check_bucket_names(topo, settings.env, settings.region, extra=("cloudtrail",))


def _triggers(topo: Topology) -> None:
    for fn in topo.lambdas:
        kind = getattr(fn.trigger, "type", None)
        if kind not in MAPPED_TRIGGERS:
            raise SpecMappingError(
                f"lambdas[{fn.name!r}].trigger.type {kind!r} cannot be deployed by tradai_infra "
                f"(known: {', '.join(MAPPED_TRIGGERS)})"
            )


def _edge(topo: Topology) -> None:
    services = {s.name: s for s in topo.services}
    for r in topo.edge.routes:
        where = f"edge.routes[{r.path!r}]"
        if r.method not in HTTP_METHODS:
            raise SpecMappingError(f"{where}.method {r.method!r} is not an HTTP API method")
        if r.target not in ("queue", "service"):
            raise SpecMappingError(f"{where}.target {r.target!r} cannot be deployed")
        if r.target == "service" and not services[r.service].load_balanced:
            raise SpecMappingError(f"{where} targets service {r.service!r}, which is not "
                                   f"load_balanced, so the ALB behind the VPC Link cannot reach it")
    rate = topo.edge.rate_limit
    if rate.per_seconds not in WAF_WINDOWS:
        raise SpecMappingError(f"edge.rate_limit.per_seconds {rate.per_seconds} is not a WAF "
                               f"evaluation window ({', '.join(map(str, WAF_WINDOWS))})")
    if rate.requests < WAF_MIN_LIMIT:
        raise SpecMappingError(f"edge.rate_limit.requests {rate.requests} is below WAF's "
                               f"minimum of {WAF_MIN_LIMIT}")


def _state_machines(topo: Topology) -> None:
    tasks = {t.name for t in topo.task_definitions}
    for m in topo.state_machines:
        asl = load_asl(m.asl)
        where = f"state_machines[{m.name!r}] ({m.asl})"
        if asl.get("TimeoutSeconds") != m.timeout_seconds:
            raise SpecMappingError(f"{where}: TimeoutSeconds {asl.get('TimeoutSeconds')} differs "
                                   f"from the spec's timeout_seconds {m.timeout_seconds}")
        for key in sorted(placeholders(asl)):
            kind, _, name = key.partition(":")
            if kind == "Lambda":
                fn = next((f for f in topo.lambdas if f.name == name), None)
                if fn is None or fn.trigger.type != "stepfunctions" or \
                        m.name not in fn.trigger.state_machines:
                    raise SpecMappingError(f"{where} invokes Lambda {name!r}, which the spec "
                                           f"does not declare as triggered by {m.name!r}")
            elif kind == "TaskDefinition":
                if name not in tasks:
                    raise SpecMappingError(f"{where} runs unknown task definition {name!r}")
            elif key not in ASL_GLOBALS:
                raise SpecMappingError(f"{where}: placeholder ${{{key}}} has no AWS mapping")


def _network(topo: Topology) -> None:
    hook = topo.network.nat.lifecycle_hook
    if hook.transition not in _EVENT_DETAIL_TYPES:
        raise SpecMappingError(f"network.nat.lifecycle_hook.transition {hook.transition!r} "
                               f"cannot be wired to EventBridge")
    services = {s.name for s in topo.services}
    for source, target in PEER_FLOWS:
        if target not in services:
            raise SpecMappingError(f"tradai_infra.network.PEER_FLOWS: {source} -> {target} "
                                   f"names a service the spec does not declare")
    for client in DATABASE_CLIENTS:
        if client not in services:
            raise SpecMappingError(f"tradai_infra.network.DATABASE_CLIENTS names unknown "
                                   f"service {client!r}")


def missing_handlers(topo: Topology) -> list[str]:
    """Lambdas whose handler module is not in the packaged code: never deployed (a function
    that can only fail on its first invoke is worse than none); ``unbuilt`` refuses the
    required ones."""
    missing = []
    for fn in topo.lambdas:
        module = fn.handler.rsplit(".", 1)[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(fn.name)
    return missing


def unbuilt(topo: Topology) -> tuple[list[str], list[str]]:
    """The functions and state machines not deployed because a handler module does not exist
    yet; raises when one of those functions is ``required`` (the platform cannot run without
    it)."""
    missing = missing_handlers(topo)
    required = [n for n in missing if topo.lambda_(n).required]
    if required:
        raise SpecMappingError(
            "required Lambda functions have no handler module in tradai, so they cannot be "
            "deployed: " + ", ".join(f"{n} ({topo.lambda_(n).handler})" for n in required))
    machines = [m.name for m in topo.state_machines
                if set(invoked_lambdas(load_asl(m.asl))) & set(missing)]
    return missing, machines


def invoked_lambdas(asl: dict[str, object]) -> list[str]:
    """The functions an ASL document invokes (its ``Lambda:<name>`` placeholders)."""
    return sorted(k.split(":", 1)[1] for k in placeholders(asl) if k.startswith("Lambda:"))
