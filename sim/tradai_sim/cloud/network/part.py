"""The network part: runs the VPC router and the egress processes, and keeps the router's table
in line with the emulator's EC2 state and the faults in force.

Every ``REFRESH_WALL_SECONDS`` it reads EC2 (in-process), starts or kills NAT egress processes
after their instances' states, recomputes every listener's decision (``table.py``) and pushes
the table when it changed. Other parts use it through ``ctx.resources["_network"]``:
``localize(env, subnet)`` gives a process its subnet's view of the network, ``register_eni``
gives a task port an address the network can cut, ``disrupt`` / ``end_disruption`` and
``set_outage`` / ``clear_outage`` are what FIS and the AZ model inject.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from tradai.settings import service_endpoint_env
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.network import table as rules
from tradai_sim.cloud.network.nat import EgressFleet
from tradai_sim.cloud.network.processes import ChildProcess
from tradai_sim.cloud.network.view import Ec2View, read_ec2
from tradai_sim.vpc.marks import EGRESS_TOKEN_ENV

log = logging.getLogger(__name__)

REFRESH_WALL_SECONDS = 0.1
TOKEN_KEY = "_egress_token"
# Where things live in the network model, for prefix-list rules (documentation ranges).
INTERNET_IPS = ("203.0.113.10",)  # the exchange ("the internet")
AWS_API_IPS = ("52.94.0.10",)  # the regional AWS API endpoints
PROBE_TIMEOUT_S = 1.0


def prepare(ctx: CloudContext) -> None:
    """The stack's egress secret: egress processes mark with it, the exchange checks it."""
    ctx.resources[TOKEN_KEY] = secrets.token_hex(16)


class NetworkError(ValueError):
    """A disruption that cannot be made (unknown subnet or scope): nothing is injected."""


class NetworkPart:
    name = "network"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.token: str = ctx.resources.get(TOKEN_KEY) or secrets.token_hex(16)
        self.router = ChildProcess(ctx, "vpc-router", "tradai_sim.vpc.router", [])
        self.fleet = EgressFleet(ctx, self.token)
        self.admin_url = ""
        self.disruptions: dict[str, rules.Disruption] = {}
        self.outages: dict[str, str] = {}
        self.enis: dict[str, rules.Eni] = {}
        self.view = Ec2View()
        self.table: dict[str, rules.Decision] = {}
        self.ports: dict[str, int] = {}
        self.destinations: dict[str, rules.Destination] = {}
        self.urls: dict[str, str] = {}  # base URL a process is given -> destination name
        self.aws_services: dict[str, str] = {}  # "aws:ec2" -> VPC endpoint service "ec2"
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="network", daemon=True)

    # -- Part ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.router.spawn()
        self.admin_url = f"http://127.0.0.1:{self.router.wait_ready()['admin_port']}"
        self.fleet.start()
        # Clients outside the VPC (the harness, tests, a developer's tools) reach "the
        # internet" through the internet gateway's egress, as a public subnet would.
        self.ctx.publish_endpoint("egress", f"http://127.0.0.1:{self.fleet.igw_port()}")
        self._destinations()
        self.refresh(force=True)
        self.ctx.resources["_network"] = self
        routes = self.ctx.control_routes
        routes["/network"] = lambda body: (200, self.status())
        routes["/network/disruptions"] = self._disruptions_route
        routes["/network/aws"] = lambda body: (200, self.aws_paths())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.fleet.stop()
        self.router.stop()

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_WALL_SECONDS):
            try:
                self.refresh()
            except Exception:  # the emulator may be mid-change; the next pass sees it whole
                log.exception("network refresh failed")

    # -- the table ----------------------------------------------------------------------------
    def _destinations(self) -> None:
        endpoint = urlsplit(self.ctx.endpoint)
        aws = rules.Destination(endpoint.hostname or "127.0.0.1", endpoint.port or 80,
                                AWS_API_IPS)
        dest = {rules.AWS: aws}
        # One destination per API the spec has a VPC endpoint for: the router decides each
        # (subnet, service) on its own, as endpoints are per service.
        self.aws_services = {
            rules.aws_destination(client): service
            for client, (service, _) in self.ctx.topology.network.endpoints.clients().items()}
        dest |= {name: aws for name in self.aws_services}
        edge = self.ctx.resources.get("_edge_ports")
        alb_ips = tuple(_host_ip(cidr, 10) for cidr in self._public_cidrs())
        if edge is not None:
            dest["alb"] = rules.Destination("127.0.0.1", edge.alb, alb_ips)
            for service, port in edge.discovery.items():
                dest[f"discovery:{service}"] = rules.Destination("127.0.0.1", port, alb_ips)
        self.destinations = dest
        self.urls = {f"http://{d.host}:{d.port}": name for name, d in dest.items()
                     if not rules.is_aws(name)}
        self.urls[f"http://{aws.host}:{aws.port}"] = rules.AWS
        self.urls[self.ctx.endpoint.rstrip("/")] = rules.AWS

    def _public_cidrs(self) -> list[str]:
        return [az.public for az in self.ctx.topology.network.azs]

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            self.view = read_ec2(self.ctx.account_id, self.ctx.region,
                                 self.ctx.resources.get("subnets", {}),
                                 self.ctx.resources.get("nat_asg"),
                                 self.ctx.resources.get("vpc_id"))
            self.fleet.reconcile(self.view)
            table = rules.routes(self._inputs())
            if force or table != self.table:
                self._push(table)

    def _inputs(self) -> rules.Inputs:
        return rules.Inputs(
            view=self.view, destinations=self.destinations, nat_ports=self.fleet.ports(),
            igw_port=self.fleet.igw_port(), internet_ips=INTERNET_IPS,
            disruptions=list(self.disruptions.values()), outages=dict(self.outages),
            enis=dict(self.enis), aws_services=dict(self.aws_services), aws_ips=AWS_API_IPS)

    def _push(self, table: dict[str, rules.Decision]) -> None:
        r = requests.put(f"{self.admin_url}/table", json={"routes": table}, timeout=10)
        r.raise_for_status()
        self.ports = {k: int(v) for k, v in r.json()["ports"].items()}
        changed = [k for k, v in table.items() if self.table.get(k) != v]
        for key in changed:
            if "refuse" in table[key] and key.startswith(("egress|", "eni|")):
                log.info("%s now refused: %s", key, table[key]["refuse"])
        self.table = table

    # -- what processes are told ------------------------------------------------------------
    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.ports[key]}"

    def localize(self, env: dict[str, str], subnet: str | None) -> dict[str, str]:
        """``env`` as a process in ``subnet`` (None: a Lambda outside the VPC) must see it:
        the AWS APIs and every VPC address through that subnet's router listeners, and
        internet egress through its route (``TRADAI_EGRESS_PROXY``).

        The AWS APIs the spec has VPC endpoints for get their own listener each, as botocore's
        service-specific ``AWS_ENDPOINT_URL_<SERVICE_ID>``, which wins over the general
        ``AWS_ENDPOINT_URL`` (the route's listener)
        (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
        where = subnet if subnet in self.view.subnets else rules.OUTSIDE
        out = dict(env)
        for name, value in env.items():
            for base, dest in self.urls.items():
                if value == base or value.startswith(base + "/"):
                    out[name] = self.url(rules.vpc_key(where, dest)) + value[len(base):]
                    break
        out["AWS_ENDPOINT_URL"] = self.url(rules.vpc_key(where, rules.AWS))
        for name in self.aws_services:
            client = name.split(":", 1)[1]
            out[service_endpoint_env(client)] = self.url(rules.vpc_key(where, name))
        out["TRADAI_EGRESS_PROXY"] = self.url(rules.egress_key(where))
        return out

    def register_eni(self, task_id: str, subnet: str | None, port: int) -> int:
        """An address for a task's port that the network can cut; returns its port."""
        with self._lock:
            self.enis[task_id] = rules.Eni(task_id, subnet or "", port)
            self._push(rules.routes(self._inputs()))
            return self.ports[rules.eni_key(task_id)]

    def release_eni(self, task_id: str) -> None:
        with self._lock:
            if self.enis.pop(task_id, None) is not None:
                self._push(rules.routes(self._inputs()))

    # -- faults -------------------------------------------------------------------------------
    def disrupt(self, subnet_ids: list[str], scope: str, prefix_list_id: str | None = None,
                label: str = "") -> str:
        """``aws:network:disrupt-connectivity`` on these subnets until ``end_disruption``."""
        with self._lock:
            if scope not in rules.SCOPES:
                raise NetworkError(f"scope {scope!r} is not one of {', '.join(rules.SCOPES)}")
            unknown = [s for s in subnet_ids if s not in self.view.subnets]
            if unknown or not subnet_ids:
                raise NetworkError(f"unknown subnet(s): {', '.join(unknown) or '(none given)'}")
            cidrs: tuple[str, ...] = ()
            if scope == "prefix-list":
                if prefix_list_id not in self.view.prefix_lists:
                    raise NetworkError(f"prefix list {prefix_list_id!r} does not exist")
                cidrs = self.view.prefix_lists[prefix_list_id]
            did = f"disruption-{uuid.uuid4().hex[:8]}"
            self.disruptions[did] = rules.Disruption(did, frozenset(subnet_ids), scope, cidrs,
                                                     label or did)
            log.info("%s: %s on %s (%s)", did, scope, subnet_ids, label)
            self.refresh(force=True)
            return did

    def end_disruption(self, disruption_id: str) -> None:
        with self._lock:
            if self.disruptions.pop(disruption_id, None) is not None:
                log.info("%s ended", disruption_id)
                self.refresh(force=True)

    def set_outage(self, az: str, label: str) -> None:
        with self._lock:
            self.outages[az] = label
            self.refresh(force=True)

    def clear_outage(self, az: str) -> None:
        with self._lock:
            if self.outages.pop(az, None) is not None:
                self.refresh(force=True)

    def _disruptions_route(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body["method"] == "DELETE":
            self.end_disruption(body["args"].get("id") or body.get("id", ""))
            return 200, {"disruptions": self._disruption_list()}
        if body["method"] == "POST":
            try:
                did = self.disrupt(list(body.get("subnets") or []), body.get("scope", "all"),
                                   body.get("prefix_list_id"), body.get("label", ""))
            except NetworkError as exc:
                return 400, {"error": str(exc)}
            return 200, {"id": did}
        return 200, {"disruptions": self._disruption_list()}

    def _disruption_list(self) -> list[dict[str, Any]]:
        return [{"id": d.id, "subnets": sorted(d.subnets), "scope": d.scope,
                 "cidrs": list(d.cidrs), "label": d.label} for d in self.disruptions.values()]

    # -- status -------------------------------------------------------------------------------
    def status(self, probe: bool = True) -> dict[str, Any]:
        with self._lock:
            subnets = []
            for s in sorted(self.view.subnets.values(), key=lambda s: s.name):
                route = self.view.routes.get(s.id)
                decision = self.table.get(rules.egress_key(s.id), {})
                inst = self.view.instances.get(route.target or "") if route else None
                entry: dict[str, Any] = {
                    "id": s.id, "name": s.name, "tier": s.tier, "az": s.az, "cidr": s.cidr,
                    "route_table": route.route_table if route else None,
                    "route_target": route.target if route else None,
                    "route_target_kind": route.kind if route else "none",
                    "route_state": ("blackhole" if route and route.kind == "instance" and (
                        inst is None or inst.state != "running") else "active")
                    if route and route.kind != "none" else None,
                    "egress": {"allowed": "to" in decision,
                               "reason": decision.get("refuse")},
                    # what a process of this subnet is given as TRADAI_EGRESS_PROXY and as
                    # AWS_ENDPOINT_URL
                    "egress_proxy": self.url(rules.egress_key(s.id))
                    if rules.egress_key(s.id) in self.ports else None,
                    "aws_endpoint": self.url(rules.vpc_key(s.id, rules.AWS))
                    if rules.vpc_key(s.id, rules.AWS) in self.ports else None,
                    # each AWS API from here: through which endpoint or route, or why not
                    "aws_apis": {name: self.table.get(rules.vpc_key(s.id, name), {})
                                 for name in [rules.AWS, *self.aws_services]},
                }
                subnets.append(entry)
            out: dict[str, Any] = {
                "router": {"pid": self.router.pid, "alive": self.router.alive,
                           "admin": self.admin_url},
                "egress": self.fleet.status(), "subnets": subnets,
                "disruptions": self._disruption_list(), "outages": dict(self.outages),
                "enis": len(self.enis),
            }
        if probe:
            for entry in subnets:
                if entry["tier"] != "database":
                    entry["egress"]["works"] = self.probe(entry["id"])
        return out

    def aws_paths(self) -> dict[str, Any]:
        """Per subnet and AWS API listener: connections accepted by path (which endpoint or
        route; ``(route down)`` when only the endpoint served) and refused, from the router."""
        stats = requests.get(f"{self.admin_url}/stats", timeout=10).json()["listeners"]
        out: dict[str, Any] = {}
        with self._lock:
            for s in self.view.subnets.values():
                for name in [rules.AWS, *self.aws_services]:
                    st = stats.get(rules.vpc_key(s.id, name))
                    if st is None:
                        continue
                    out.setdefault(s.name, {})[name] = {
                        "accepted": st["accepted"], "refused": st["refused"],
                        "via": st.get("via", {}), "last_refusal": st.get("last_refusal")}
        return out

    def probe(self, subnet: str) -> bool:
        """One real request from ``subnet`` to the internet (the exchange), through its route."""
        exchange = (self.ctx.resources.get("_exchange") or {}).get("url")
        key = rules.egress_key(subnet)
        if not exchange or key not in self.ports:
            return False
        with requests.Session() as session:
            session.trust_env = False  # NO_PROXY must not send the probe around the route
            try:
                r = session.get(f"{exchange}/api/v3/ping", timeout=PROBE_TIMEOUT_S,
                                proxies={"http": self.url(key)})
            except requests.RequestException:
                return False
        return r.status_code == 200


def _host_ip(cidr: str, index: int) -> str:
    return str(ipaddress.ip_network(cidr, strict=False).network_address + index)


def egress_env(ctx: CloudContext) -> dict[str, str]:
    """What the exchange needs to check the egress mark."""
    return {EGRESS_TOKEN_ENV: ctx.resources.get(TOKEN_KEY, "")}


def make_part(ctx: CloudContext, invoker: Any) -> NetworkPart:
    return NetworkPart(ctx)
