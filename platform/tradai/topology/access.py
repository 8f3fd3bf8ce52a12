"""The spec's ``access`` entries: proven to name spec resources only, and read by who is told
what (``runtime_config``) on both sides.

Every function, service and task definition declares its access in the spec
(``tradai.topology.model.Access``); ``tradai.topology.iam_policy`` turns it into its role's
policy. A component is told the name or URL of a bucket, table, queue, topic or secret only
if its access names it: being told a resource it may not touch would only turn a
configuration slip into an AccessDenied at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tradai.topology.model import Access, Topology

if TYPE_CHECKING:  # runtime_config imports tradai.health, which imports the topology package
    from tradai.topology.runtime_config import Kind, Told

# Namespaces the platform's own metrics go to (tradai.trading.monitor, tradai.health.checker).
TRADING_METRICS, HEALTH_METRICS = "TradAI/Trading", "TradAI/Health"
MODEL_METRICS = "TradAI/Models"  # tradai.models.monitor: PSI and drifting models
METRIC_NAMESPACES = (TRADING_METRICS, HEALTH_METRICS, MODEL_METRICS)
SECTIONS = ("lambdas", "services", "task_definitions")


def components(topo: Topology) -> Iterator[tuple[str, str, Access | None]]:
    """(section, name, access) of every function, service and task definition."""
    for section in SECTIONS:
        for entry in getattr(topo, section):
            yield section, entry.name, entry.access


def access_of(topo: Topology, component: str) -> Access:
    for section, name, access in components(topo):
        if name == component:
            if access is None:
                raise KeyError(f"{section}[{name!r}] declares no access")
            return access
    raise KeyError(f"no function, service or task definition named {component!r}")


def access_problems(topo: Topology) -> list[str]:
    """What is wrong with the spec's access entries, each naming the entry: a missing entry,
    a name the spec does not declare, an object grant that is not ``bucket/prefix/``."""
    tables = {t.name for t in topo.tables}
    machines = {m.name for m in topo.state_machines}
    known: dict[str, set[str]] = {
        "tables_read": tables, "tables_write": tables, "slots_take": tables,
        "slots_free": tables, "items_update": tables,
        "queues_send": {q.name for q in topo.queues},
        "buckets_read": {b.name for b in topo.buckets},
        "buckets_write": {b.name for b in topo.buckets},
        "topics": {t.name for t in topo.topics},
        "secrets": {s.name for s in topo.secrets},
        "start_workflows": machines, "watch_workflows": machines, "stop_workflows": machines,
        "invoke_lambdas": {f.name for f in topo.lambdas},
        "run_tasks": {t.name for t in topo.task_definitions},
        "metrics": set(METRIC_NAMESPACES),
    }
    problems = []
    for section, name, access in components(topo):
        where = f"{section}[{name!r}]"
        if access is None:
            problems.append(f"{where}: no access; declare what it reads and writes "
                            "(access: {} for nothing)")
            continue
        for key, value in access:
            if key.startswith("objects_"):
                for v in value:
                    bucket, _, prefix = v.partition("/")
                    if not prefix.endswith("/"):
                        problems.append(f"{where}.access.{key} names {v!r}, which is not "
                                        "bucket/prefix/")
                    elif bucket not in known["buckets_read"]:
                        problems.append(f"{where}.access.{key} names unknown bucket "
                                        f"{bucket!r}")
            elif isinstance(value, tuple):
                problems += [f"{where}.access.{key} names {v!r}, which the spec does not "
                             f"declare" for v in value if v not in known[key]]
    return problems


def tables_of(a: Access) -> set[str]:
    return {*a.tables_read, *a.tables_write, *a.slots_take, *a.slots_free, *a.items_update}


def buckets_of(a: Access) -> set[str]:
    return {*a.buckets_read, *a.buckets_write,
            *(e.partition("/")[0] for e in (*a.objects_read, *a.objects_write))}


def named(a: Access, kind: Kind) -> set[str]:
    """The resources of one kind an access names (services are not IAM: not here)."""
    return {"bucket": buckets_of(a), "table": tables_of(a), "queue": set(a.queues_send),
            "topic": set(a.topics), "secret": set(a.secrets)}[kind]  # type: ignore[index]


def told_by_access(topo: Topology,
                   services: Callable[[str, str], bool] | None = None) -> Told:
    """Who is told what: a resource's name only to the components whose access names it;
    a service's URL as ``services(component, service)`` says (None: to everyone)."""
    accesses = {name: access for _, name, access in components(topo)}

    def tells(component: str, kind: Kind, logical: str) -> bool:
        if kind == "service":
            return services is None or services(component, logical)
        access = accesses[component]
        return access is not None and logical in named(access, kind)

    return tells

