"""Load the topology spec and prove it consistent before anything is built from it.

Every error names the offending entry, so a broken spec fails with a message a person can act
on, before the local cloud or the Pulumi program declares a single resource.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tradai.topology.access import access_problems
from tradai.topology.model import Topology
from tradai.topology.relations import duration_relations
from tradai.topology.schedule import ScheduleError, parse_schedule

DEFAULT_SPEC = "topology.yaml"
WORKFLOWS_PACKAGE = "tradai.workflows"


class SpecError(ValueError):
    """The topology spec is invalid; the message names the entry and the problem."""


def load_topology(path: str | Path | None = None) -> Topology:
    """Load and validate a spec file (the packaged ``topology.yaml`` by default)."""
    if path is None:
        text = resources.files("tradai.topology").joinpath(DEFAULT_SPEC).read_text()
        source = DEFAULT_SPEC
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SpecError(f"cannot read topology spec {path}: {exc.strerror}") from exc
        source = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from exc
    return parse_topology(raw, source)


@lru_cache(maxsize=1)
def default_topology() -> Topology:
    return load_topology()


def parse_topology(raw: Any, source: str = "spec") -> Topology:
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping at the top level")
    _check_unique_names(raw, source)
    try:
        topo = Topology.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _describe_location(raw, first["loc"])
        raise SpecError(f"{source}: {where}: {first['msg']}") from exc
    _check_references(topo, source)
    return topo


_NAMED_SECTIONS = (
    "services", "task_definitions", "queues", "tables", "buckets", "topics", "secrets",
    "schedules", "state_machines", "lambdas", "alarms",
)


def _check_unique_names(raw: dict[str, Any], source: str) -> None:
    for section in _NAMED_SECTIONS:
        names = [e.get("name") for e in raw.get(section) or [] if isinstance(e, dict)]
        dupes = [n for n, c in Counter(names).items() if c > 1]
        if dupes:
            raise SpecError(f"{source}: {section}: duplicate name {dupes[0]!r}")


def _describe_location(raw: Any, loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into ``lambdas['health-check'].timeout``."""
    out, node = "", raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            node = node[part] if part < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            out += f"[{name!r}]" if name else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _check_references(t: Topology, source: str) -> None:
    def fail(msg: str) -> None:
        raise SpecError(f"{source}: {msg}")

    queues = {q.name: q for q in t.queues}
    lambdas = {fn.name for fn in t.lambdas}
    schedules = {s.name for s in t.schedules}
    machines = {m.name for m in t.state_machines}
    services = {s.name for s in t.services}
    topics = {tp.name for tp in t.topics}
    secrets = {s.name for s in t.secrets}

    for q in t.queues:
        if q.fifo != q.name.endswith(".fifo"):
            fail(f"queues[{q.name!r}]: a FIFO queue's name ends in '.fifo' and only a FIFO's does")
        if q.dlq is not None:
            if q.dlq not in queues:
                fail(f"queues[{q.name!r}].dlq names unknown queue {q.dlq!r}")
            if queues[q.dlq].fifo != q.fifo:
                fail(f"queues[{q.name!r}].dlq {q.dlq!r} must be FIFO exactly when its source is")
            if q.max_receive_count is None:
                fail(f"queues[{q.name!r}]: a queue with a dlq needs max_receive_count")

    for fn in t.lambdas:
        trig = fn.trigger
        if trig.type == "sqs":
            if trig.queue not in queues:
                fail(f"lambdas[{fn.name!r}].trigger names unknown queue {trig.queue!r}")
        elif trig.type == "schedule" and trig.schedule not in schedules:
            fail(f"lambdas[{fn.name!r}].trigger names unknown schedule {trig.schedule!r}")
        elif trig.type == "stepfunctions":
            for m in trig.state_machines:
                if m not in machines:
                    fail(f"lambdas[{fn.name!r}].trigger names unknown state machine {m!r}")
        elif trig.type == "lifecycle-hook" and trig.hook != t.network.nat.lifecycle_hook.name:
            fail(f"lambdas[{fn.name!r}].trigger names unknown lifecycle hook {trig.hook!r}")
        if "." not in fn.handler:
            fail(f"lambdas[{fn.name!r}].handler {fn.handler!r} must be 'module.function'")

    for s in t.schedules:
        try:
            parse_schedule(s.expression)
        except ScheduleError as exc:
            fail(f"schedules[{s.name!r}]: {exc}")
        if s.target_lambda not in lambdas:
            fail(f"schedules[{s.name!r}] targets unknown lambda {s.target_lambda!r}")

    if t.network.nat.lifecycle_hook.target_lambda not in lambdas:
        fail(f"network.nat.lifecycle_hook targets unknown lambda "
             f"{t.network.nat.lifecycle_hook.target_lambda!r}")

    for svc in t.services:
        if svc.min > svc.max:
            fail(f"services[{svc.name!r}]: min {svc.min} exceeds max {svc.max}")
    ports = Counter(s.port for s in t.services)
    for port, n in ports.items():
        if n > 1:
            fail(f"services: port {port} is used by more than one service")

    for m in t.state_machines:
        if not resources.files(WORKFLOWS_PACKAGE).joinpath(m.asl).is_file():
            fail(f"state_machines[{m.name!r}]: ASL file {m.asl!r} not found in {WORKFLOWS_PACKAGE}")

    for r in t.edge.routes:
        if r.target == "queue" and r.queue not in queues:
            fail(f"edge.routes[{r.path!r}] names unknown queue {r.queue!r}")
        if r.target == "service" and r.service not in services:
            fail(f"edge.routes[{r.path!r}] names unknown service {r.service!r}")

    balanced = {s.name for s in t.services if s.load_balanced}
    for a in t.alarms:
        if (a.queue is None) == (a.target_group is None):
            fail(f"alarms[{a.name!r}] names either a queue or a target_group (exactly one)")
        if a.queue is not None and a.queue not in queues:
            fail(f"alarms[{a.name!r}] names unknown queue {a.queue!r}")
        if a.target_group is not None and a.target_group not in balanced:
            fail(f"alarms[{a.name!r}].target_group {a.target_group!r} is not a load-balanced "
                 f"service")
        if a.points_to_alarm > a.evaluation_periods:
            fail(f"alarms[{a.name!r}]: datapoints_to_alarm {a.points_to_alarm} exceeds "
                 f"evaluation_periods {a.evaluation_periods}")
        # CloudWatch: at most one day of evaluation (seven for periods of an hour or more)
        if a.period * a.evaluation_periods > (604800 if a.period >= 3600 else 86400):
            fail(f"alarms[{a.name!r}]: period x evaluation_periods exceeds CloudWatch's limit")
        if a.topic not in topics:
            fail(f"alarms[{a.name!r}] names unknown topic {a.topic!r}")
    if t.database.secret not in secrets:
        fail(f"database.secret names unknown secret {t.database.secret!r}")

    _check_network(t, fail)
    # Who may touch what (today's check_access of the Pulumi program, moved to the spec).
    for problem in access_problems(t):
        fail(problem)
    for problem in duration_relations(t):
        fail(problem)


def _check_network(t: Topology, fail: Any) -> None:
    vpc = ipaddress.ip_network(t.network.vpc_cidr)
    if len(t.network.azs) != 2:
        fail(f"network.azs: the architecture runs in exactly 2 AZs, got {len(t.network.azs)}")
    seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for az in t.network.azs:
        for tier in ("public", "private", "database"):
            net = ipaddress.ip_network(getattr(az, tier))
            label = f"network.azs[{az.name!r}].{tier}"
            if not net.subnet_of(vpc):  # type: ignore[arg-type]
                fail(f"{label} {net} is outside the VPC {vpc}")
            for other_label, other in seen:
                if net.overlaps(other):
                    fail(f"{label} {net} overlaps {other_label} {other}")
            seen.append((label, net))
