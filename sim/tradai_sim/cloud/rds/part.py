"""The RDS part: the spec's ``database:`` as a real PostgreSQL server (``server.py``), MLflow's
backend store and basic-auth tables by default.

``prepare`` (before the bootstrap) picks a free port, starts initdb (first start only) and the
server in the background, so they overlap the bootstrap, and tells the MLflow service where the
database is, as the Pulumi program does (``TRADAI_MLFLOW_DB_HOST`` / ``DB_PORT`` / ``DB_NAME``:
``infra/tradai_infra/compute.py``; its login comes in through the task definition's ECS
``secrets``, read with the execution role: ``tradai.topology.ecs_secrets``). ``start``
(after the bootstrap, before ECS starts MLflow) waits for the server, puts the master
credentials into the spec's ``mlflow-database`` secret and creates the instance in the
emulator's RDS (``DescribeDBInstances`` answers the real local address and port:
``moto_hooks.py``).

Data lives in ``<state dir>/rds/<identifier>/``: it survives ``down`` / ``up``. The emulator
forgets its secrets at ``down`` while the database keeps the roles they opened, so the master
credentials and MLflow's admin login (its user table lives here) are kept beside the data
(0600) and put back into the new stack's secrets, as they would still be on AWS.

Placement: a single-AZ instance in the database subnet of one AZ. The Pulumi program names no
AZ (AWS picks one); locally it is the spec's last AZ (``TRADAI_SIM_RDS_AZ`` chooses another),
so the az-loss drill, which powers off zone a, keeps the registry. A power outage of its AZ
(the zones part) kills the server at once (no shutdown, as on a power loss); it starts again
(crash recovery) when the outage ends. The ``tradai:rds:instance-down`` fault stops it cleanly
(as ``StopDBInstance`` would) and starts it at the fault's end.

``TRADAI_SIM_MLFLOW_STORE=sqlite`` (``tradai-sim up --mlflow-store sqlite``): no server; MLflow
keeps its SQLite file in the state dir as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tradai.registry.credentials import AUTH_SECRET
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.rds import moto_hooks
from tradai_sim.cloud.rds.server import Cluster, server_version

log = logging.getLogger(__name__)

STORE_ENV = "TRADAI_SIM_MLFLOW_STORE"
STORES = ("postgres", "sqlite")
AZ_ENV = "TRADAI_SIM_RDS_AZ"
RESOURCE_KEY = "_rds"
MASTER_USERNAME = "mlflow"  # as the Pulumi program's (infra/tradai_infra/database.py)
HOST = "127.0.0.1"
KEPT_FILE = "kept-secrets.json"
START_WAIT_S = 120.0


class RdsError(ValueError):
    """A setting the part cannot honour (unknown store or AZ): the cloud does not start."""


CONTAINER_SECRETS_KEY = "container_secrets"


def mlflow_store() -> str:
    value = os.environ.get(STORE_ENV, "postgres").strip().lower() or "postgres"
    if value not in STORES:
        raise RdsError(f"{STORE_ENV}={value!r}: the MLflow store is one of {', '.join(STORES)}")
    return value


def prepare(ctx: CloudContext) -> None:
    if mlflow_store() != "postgres":
        ctx.resources["rds"] = {"store": "sqlite"}
        return
    from tradai_sim.ports import free_port

    instance = RdsInstance(ctx, free_port())
    ctx.resources[RESOURCE_KEY] = instance
    instance.begin()
    db = ctx.topology.database
    ctx.resources.setdefault("service_env", {}).setdefault("mlflow", {}).update({
        "TRADAI_MLFLOW_DB_HOST": HOST,
        "TRADAI_MLFLOW_DB_PORT": str(instance.port),
        "TRADAI_MLFLOW_DB_NAME": db.name,
    })
    # The containers whose ECS ``secrets`` (the database login) the bootstrap declares.
    ctx.resources[CONTAINER_SECRETS_KEY] = ["mlflow"]
    ctx.publish_endpoint("rds", f"postgresql://{HOST}:{instance.port}/{db.name}")


class RdsInstance:
    """The one instance of the spec, as a Part (``name`` "rds") and the effector that zone
    outages and the ``tradai:rds:instance-down`` fault act on."""

    name = "rds"

    def __init__(self, ctx: CloudContext, port: int) -> None:
        self.ctx = ctx
        self.spec = ctx.topology.database
        self.identifier = ctx.name(self.spec.name)  # as the Pulumi program names it
        self.port = port
        self.az = os.environ.get(AZ_ENV) or f"{ctx.region}{ctx.topology.network.azs[-1].name}"
        azs = [f"{ctx.region}{az.name}" for az in ctx.topology.network.azs]
        if self.az not in azs:
            raise RdsError(f"{AZ_ENV}={self.az!r} is not an AZ of this deployment "
                           f"({', '.join(azs)})")
        self.root = ctx.state_dir / "rds" / self.identifier
        self.cluster = Cluster(self.root / "data", port, ctx.log_dir / "rds.log",
                               superuser=MASTER_USERNAME)
        self.subnet: str | None = None
        self.state = "creating"  # RDS's DBInstanceStatus words
        self.reason: str | None = None
        self.version: str | None = None
        self.fresh = False  # initdb ran in this stack
        self.started_in_s: float | None = None
        self.history: list[dict[str, Any]] = []
        self._credentials: dict[str, str] = {}
        self._error: BaseException | None = None
        self._lock = threading.RLock()
        self._boot = threading.Thread(target=self._bring_up, name="rds-start", daemon=True)

    # -- start --------------------------------------------------------------------------------
    def begin(self) -> None:
        self._boot.start()

    def _bring_up(self) -> None:
        began = time.monotonic()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o755)  # as root, the server's own user must reach data/
            self._credentials = self._master_credentials()
            if not self.cluster.initialized:
                self.cluster.init(MASTER_USERNAME, self._credentials["password"])
                self.fresh = True
            self.cluster.start()
            self._register()
            # The master password is the one kept beside the data (a lost file: a new one).
            self.cluster.set_password(MASTER_USERNAME, self._credentials["password"],
                                      superuser=MASTER_USERNAME)
            self.cluster.ensure_database(self.spec.name, MASTER_USERNAME,
                                         superuser=MASTER_USERNAME)
            self.version = server_version()
            self.started_in_s = time.monotonic() - began
        except BaseException as exc:  # reported by start()
            self._error = exc

    def _master_credentials(self) -> dict[str, str]:
        kept = self._kept()
        creds = kept.get("master")
        if not creds:
            creds = {"username": MASTER_USERNAME, "password": secrets.token_urlsafe(24)}
            self._keep("master", creds)
        return dict(creds)

    def start(self) -> None:
        self._boot.join(START_WAIT_S)
        if self._boot.is_alive():
            raise RuntimeError(f"PostgreSQL did not start within {START_WAIT_S:g} s; see "
                               f"{self.ctx.log_dir / 'rds.log'}")
        if self._error is not None:
            raise RuntimeError(f"RDS instance {self.identifier}: {self._error}") from self._error
        self.subnet = self.ctx.resources.get("subnets", {}).get("database", {}).get(self.az)
        self._secrets()
        self._emulator_instance()
        self.state = "available"
        self.ctx.resources[RESOURCE_KEY] = self
        self.ctx.control_routes["/rds"] = self._route
        log.info("RDS %s: PostgreSQL %s pid %s on %s:%d in %s (%s), %s", self.identifier,
                 self.version, self.cluster.pid, HOST, self.port, self.az, self.subnet,
                 "initialised" if self.fresh else "existing data")

    def _secrets(self) -> None:
        """The master credentials into the spec's database secret; MLflow's admin login back
        to what the database's user table knows (kept at the first start)."""
        sm = self.ctx.client("secretsmanager")
        sm.put_secret_value(SecretId=self.ctx.name(self.spec.secret),
                            SecretString=json.dumps(self._credentials))
        admin = self.ctx.name(AUTH_SECRET)
        kept = self._kept().get("mlflow_admin")
        try:
            if kept:
                sm.put_secret_value(SecretId=admin, SecretString=kept)
            else:
                self._keep("mlflow_admin",
                           sm.get_secret_value(SecretId=admin)["SecretString"])
        except ClientError as exc:  # a spec without MLflow basic auth
            log.warning("MLflow admin secret %s not kept: %s", admin, exc)

    def _emulator_instance(self) -> None:
        rds = self.ctx.client("rds")
        group = self.ctx.name("db-subnets")  # as the Pulumi program's subnet group
        subnets = list(self.ctx.resources.get("subnets", {}).get("database", {}).values())
        with contextlib.suppress(rds.exceptions.DBSubnetGroupAlreadyExistsFault):
            rds.create_db_subnet_group(DBSubnetGroupName=group, SubnetIds=subnets,
                                       DBSubnetGroupDescription="TradAI database subnets")
        moto_hooks.ENDPOINTS[self.identifier] = HOST
        try:
            rds.describe_db_instances(DBInstanceIdentifier=self.identifier)
        except rds.exceptions.DBInstanceNotFoundFault:
            sg = self.ctx.resources.get("security_groups", {}).get("database")
            rds.create_db_instance(
                DBInstanceIdentifier=self.identifier, DBInstanceClass=self.spec.instance_class,
                Engine=self.spec.engine, EngineVersion=self.spec.engine_version,
                AllocatedStorage=self.spec.allocated_storage, DBName=self.spec.name,
                MasterUsername=MASTER_USERNAME,
                MasterUserPassword=self._credentials["password"], Port=self.port,
                AvailabilityZone=self.az, DBSubnetGroupName=group, MultiAZ=False,
                PubliclyAccessible=False, StorageEncrypted=True,
                **({"VpcSecurityGroupIds": [sg]} if sg else {}))
            self.ctx.resources.setdefault("rds_instances", []).append(self.identifier)

    # -- what faults do -----------------------------------------------------------------------
    def power_off(self, az: str, reason: str) -> bool:
        """Its AZ lost power: the server dies at once. True if it was there and running."""
        with self._lock:
            if az != self.az or not self.cluster.running:
                return False
            self.cluster.kill()
            self._set("inaccessible", reason, "power-off")
            return True

    def power_on(self, az: str) -> None:
        with self._lock:
            if az == self.az and self.state == "inaccessible":
                threading.Thread(target=self._restart, args=("power-on",), daemon=True,
                                 name="rds-power-on").start()

    def stop_instance(self, reason: str) -> None:
        """``StopDBInstance``: a clean shutdown; connections are closed."""
        with self._lock:
            if not self.cluster.running:
                raise RuntimeError(f"RDS instance {self.identifier} is not running "
                                   f"({self.state})")
            self._set("stopping", reason, "stop")
            self.cluster.stop()
            self._set("stopped", reason, "stopped")

    def start_instance(self) -> None:
        """``StartDBInstance``; returns when the server accepts connections."""
        self._restart("start")

    def _restart(self, event: str) -> None:
        with self._lock:
            if self.cluster.running:
                return
            zones = self.ctx.resources.get("_zones")
            if zones is not None and self.az in zones.unavailable_azs():
                self._set("inaccessible", f"Availability Zone {self.az} is down", event)
                return  # it comes back with its AZ
            self._set("starting", None, event)
            try:
                self.cluster.start()
            except Exception as exc:
                self._set("failed", str(exc), f"{event}-failed")
                log.exception("RDS %s did not start", self.identifier)
                return
            self._register()
            self._set("available", None, f"{event}-done")

    def _register(self) -> None:
        """``down`` reaps the server's process group even if the cloud process died."""
        if self.cluster.pid:
            self.ctx.register_child(self.cluster.pid)

    def _set(self, state: str, reason: str | None, event: str) -> None:
        self.state, self.reason = state, reason
        moto_hooks.set_status(self.ctx.account_id, self.ctx.region, self.identifier,
                              {"inaccessible": "available"}.get(state, state))
        self.history.append({"at": self.ctx.clock.now(), "event": event, "state": state,
                             "reason": reason, "pid": self.cluster.pid})
        del self.history[:-50]
        log.info("RDS %s %s: %s (%s)", self.identifier, event, state, reason or "")

    # -- Part ---------------------------------------------------------------------------------
    def stop(self) -> None:
        self._boot.join(START_WAIT_S)
        with self._lock:
            self.cluster.stop()
        moto_hooks.ENDPOINTS.pop(self.identifier, None)

    def status(self) -> dict[str, Any]:
        running = self.cluster.running
        return {"identifier": self.identifier, "engine": self.spec.engine,
                "engine_version": self.spec.engine_version, "server_version": self.version,
                "instance_class": self.spec.instance_class, "state": self.state,
                "reason": self.reason, "pid": self.cluster.pid, "host": HOST,
                "port": self.port, "az": self.az, "subnet": self.subnet, "running": running,
                "healthy": running and self.cluster.accepting(),
                "data_dir": str(self.cluster.data), "initialised_now": self.fresh,
                "start_seconds": self.started_in_s, "history": self.history[-10:]}

    def _route(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, self.status()

    # -- kept beside the data -----------------------------------------------------------------
    def _kept(self) -> dict[str, Any]:
        path = self.root / KEPT_FILE
        try:
            return dict(json.loads(path.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def _keep(self, key: str, value: Any) -> None:
        path: Path = self.root / KEPT_FILE
        kept = self._kept()
        kept[key] = value
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(kept))


class SqliteStore:
    """What ``status`` shows when MLflow keeps its SQLite file (no database server)."""

    name = "rds"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"state": "not started", "reason": f"{STORE_ENV}=sqlite: MLflow keeps its "
                "SQLite store in the state dir", "running": False, "healthy": None}


def make_part(ctx: CloudContext, invoker: Any) -> RdsInstance | SqliteStore:
    found = ctx.resources.get(RESOURCE_KEY)
    if found is None and mlflow_store() == "postgres" and "rds" not in ctx.resources:
        prepare(ctx)  # prepare() not run (a caller building parts by hand)
        found = ctx.resources.get(RESOURCE_KEY)
    return found if found is not None else SqliteStore()
