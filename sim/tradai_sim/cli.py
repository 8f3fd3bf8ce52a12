"""``tradai-sim``: bring the local cloud up, look at it, take it down."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
import requests
from rich.console import Console
from rich.table import Table

from tradai.topology import SpecError, load_topology
from tradai_sim.alerts_cli import alerts
from tradai_sim.drill_cli import drill
from tradai_sim.fault_cli import fault
from tradai_sim.stack import compose, launcher, readiness
from tradai_sim.stack.launcher import StackError
from tradai_sim.stack.state import DEFAULT_STATE_DIR
from tradai_sim.stack.status import stack_status

DEFAULT_PORT = 4566
DEFAULT_TIME_SCALE = 20.0  # 1 wall s = 20 simulated s: drills in seconds, stable on 2 cores

console = Console(stderr=True, soft_wrap=True)
state_dir_option = click.option(
    "--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR,
    show_default=True, help="Where the stack keeps its state and logs.")


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The TradAI local cloud: the whole platform on one machine."""


@cli.command()
@click.option("--detach", is_flag=True, help="Return once the stack is ready.")
@click.option("--no-wait", is_flag=True,
              help="Say ready once the cloud answers, without waiting for the services and "
                   "the example strategies.")
@click.option("--wait-timeout", type=float, default=600.0, show_default=True,
              help="Wall seconds to wait for every service and the examples.")
@click.option("--time-scale", type=float, default=DEFAULT_TIME_SCALE, show_default=True,
              help="Simulated seconds per wall second.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True,
              help="Port of the AWS emulator endpoint.")
@click.option("--spec", type=click.Path(), default=None, help="Topology spec file.")
@click.option("--mlflow-store", type=click.Choice(["postgres", "sqlite"]), default=None,
              help="MLflow's backend store: the spec's RDS instance as a local PostgreSQL "
                   "server (default), or a SQLite file in the state dir "
                   "[env: TRADAI_SIM_MLFLOW_STORE].")
@click.option("--backend", type=click.Choice(["embedded", "compose"]), default="embedded",
              show_default=True,
              help="embedded: the local cloud's processes (no Docker); compose: Docker "
                   "Compose (compose/compose.yml; needs a Docker engine).")
@click.option("--emulator", type=click.Choice(["auto", "moto", "localstack"]), default="auto",
              show_default=True,
              help="--backend compose: the AWS emulator container (auto: LocalStack when "
                   "LOCALSTACK_AUTH_TOKEN is set, else moto).")
@click.option("--env-file", type=click.Path(path_type=Path), default=None,
              help="--backend compose: the credentials file [default: compose/.env].")
@state_dir_option
def up(detach: bool, no_wait: bool, wait_timeout: float, time_scale: float, port: int,
       spec: str | None, mlflow_store: str | None, backend: str, emulator: str,
       env_file: Path | None, state_dir: Path) -> None:
    """Start the emulator and control plane and create every resource of the spec."""
    if backend == "compose":
        _up_compose(state_dir, emulator, env_file)
        return
    try:
        rec = launcher.running_stack(state_dir)
    except StackError as exc:
        _fail(str(exc))
    if rec is not None:
        console.print(f"stack already running at {rec.endpoint} (pid {rec.pid}); nothing changed")
        return
    started = time.time()
    try:
        with console.status("starting the local cloud") as status:
            rec = launcher.start(state_dir, port, time_scale, spec=spec,
                                 on_progress=lambda line: status.update(line),
                                 mlflow_store=mlflow_store)
    except StackError as exc:
        _fail(str(exc))
    cloud_s = time.time() - started
    if not no_wait:
        took = _wait_until_usable(rec.endpoint, started, wait_timeout)
        console.print("  ".join([f"cloud {cloud_s:.1f} s"] + [f"{name} {t:.1f} s"
                                                             for name, t in took.items()]))
    console.print(f"[green]ready[/] in {time.time() - started:.1f} s: AWS endpoint "
                  f"{rec.endpoint}, time scale {time_scale:g}x, state {state_dir}")
    if detach:
        return
    console.print("press Ctrl-C to stop")
    # Foreground: Ctrl-C or a TERM takes the stack down (even if the shell ignored SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while launcher.health(rec.endpoint):
            time.sleep(1)
        _fail("the cloud process stopped; see `tradai-sim logs cloud`")
    except KeyboardInterrupt:
        launcher.stop(state_dir)
        console.print("stopped")


def _up_compose(state_dir: Path, emulator: str, env_file: Path | None) -> None:
    """Every check first (one line each, nothing started), then compose's three steps."""
    if compose.running(state_dir) is not None:
        console.print(f"a compose stack is recorded in {state_dir}; nothing changed (`tradai-sim "
                      f"down --state-dir {state_dir}` stops it)")
        return
    try:
        plan = compose.plan(env_file=env_file, emulator=emulator)
        compose.check_ports(plan, state_dir)
    except StackError as exc:
        _fail(str(exc))
    started = time.time()
    try:
        with console.status("starting the compose stack") as status:
            compose.up(plan, state_dir, lambda line: status.update(line))
    except StackError as exc:
        _fail(str(exc))
    console.print(f"[green]ready[/] in {time.time() - started:.1f} s: compose project "
                  f"{compose.PROJECT} ({plan.emulator} at {compose.EMULATOR_URL}, MinIO, "
                  "PostgreSQL, MLflow on :5000, the platform services); `tradai-sim down` "
                  "stops it")


def _wait_until_usable(endpoint: str, started: float, timeout: float) -> dict[str, float]:
    """Live progress per component until every service is healthy and the examples are
    registered; returns how long each took (wall seconds from ``started``)."""
    took: dict[str, float] = {}
    deadline = time.time() + timeout
    pending: list[readiness.Component] = []
    with console.status("starting the services") as live:
        while time.time() < deadline:
            try:
                status = requests.get(f"{endpoint}/_sim/status", timeout=10).json()
            except requests.RequestException as exc:
                _fail(f"the cloud stopped answering while starting: {exc}; see "
                      "`tradai-sim logs cloud`")
            if (why := readiness.failed(status)) is not None:
                _fail(f"{why}; see `tradai-sim logs cloud`")
            parts = readiness.components(status)
            for c in parts:
                if c.ready and c.name not in took:
                    took[c.name] = time.time() - started
                    console.print(f"  [green]ok[/] {c.name} ({c.detail}) after "
                                  f"{took[c.name]:.1f} s")
            pending = [c for c in parts if not c.ready]
            if not pending:
                return took
            live.update(f"{time.time() - started:.0f} s: waiting for "
                        + "; ".join(f"{c.name} ({c.detail})" for c in pending))
            time.sleep(0.5)
    _fail(f"not usable after {timeout:g} s: " + "; ".join(f"{c.name}: {c.detail}"
                                                         for c in pending)
          + " (the stack keeps running: `tradai-sim status`, `tradai-sim logs`)")
    return took


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--spec", type=click.Path(), default=None, help="Topology spec file.")
@state_dir_option
def status(as_json: bool, spec: str | None, state_dir: Path) -> None:
    """Show endpoints, processes, resources and what is not implemented yet."""
    try:
        rec = launcher.running_stack(state_dir)
        topology = load_topology(spec)
    except (StackError, SpecError) as exc:
        _fail(str(exc))
    if rec is None:
        if as_json:
            click.echo(json.dumps({"running": False}))
            return
        _fail(f"no stack is running in {state_dir}; start one with `tradai-sim up --detach`")
    info = stack_status(rec, topology)
    if as_json:
        click.echo(json.dumps({"running": True, **info}, default=str))
        return
    _print_status(info)


def _print_status(info: dict[str, Any]) -> None:
    out = Console()
    out.print(f"[bold]TradAI local cloud[/] region {info['region']}, time scale "
              f"{info['time_scale']:g}x, ready in {info['ready_seconds']:.1f} s")
    ep = Table("endpoint", "url", title="Endpoints")
    for k, v in info["endpoints"].items():
        ep.add_row(k, v or "[dim]not yet[/]")
    out.print(ep)
    starting = [c for c in info.get("usable", []) if not c["ready"]]
    if starting:
        out.print("[yellow]still starting[/]: " + "; ".join(
            f"{c['component']} ({c['detail']})" for c in starting))
    else:
        out.print("[green]usable[/]: every service healthy, example strategies registered")
    pt = Table("process", "kind", "pid", "port", "az", "health", title="Processes")
    for p in info["processes"]:
        pt.add_row(str(p["name"]), p["kind"], str(p.get("pid") or p.get("count", "")),
                   str(p.get("port") or ""), str(p.get("az") or ""), str(p["health"]))
    out.print(pt)
    rt = Table("type", "count", title="Resources created")
    for k, v in sorted(info["resources"].items()):
        rt.add_row(k, str(v))
    out.print(rt)
    for kind, names in info["not_implemented"].items():
        if names:
            out.print(f"[yellow]not implemented[/] {kind}: {', '.join(names)}")


@cli.command()
@state_dir_option
def down(state_dir: Path) -> None:
    """Stop every process the stack started. Safe to run twice."""
    try:
        if compose.down(state_dir):  # a --backend compose stack (its volumes are kept)
            console.print(f"stopped the compose stack recorded in {state_dir}")
            return
    except StackError as exc:
        _fail(str(exc))
    if launcher.stop(state_dir):
        console.print(f"stopped the stack in {state_dir}")
    else:
        console.print(f"no stack running in {state_dir}; nothing to stop")


@cli.command()
@click.option("--role", default=None, metavar="ROLE",
              help="the dev user of this role (viewer, researcher, trader, operator) instead "
                   "of the default dev user")
@state_dir_option
def token(role: str | None, state_dir: Path) -> None:
    """Print an access token for the default dev user (or a role's dev user)."""
    from tradai_sim.stack.identity import dev_user_token

    try:
        rec = launcher.running_stack(state_dir)
        if rec is None:
            raise StackError(f"no stack is running in {state_dir}; start one with "
                             f"`tradai-sim up --detach`")
        click.echo(dev_user_token(rec, state_dir, role))
    except StackError as exc:
        _fail(str(exc))


@cli.command()
@click.argument("process", required=False)
@click.option("-n", "--lines", type=int, default=50, show_default=True)
@state_dir_option
def logs(process: str | None, lines: int, state_dir: Path) -> None:
    """List the stack's logs, or print the last lines of one (cloud, lambda-NAME, task-ID)."""
    log_dir = state_dir / "logs"
    files = sorted(p for p in log_dir.glob("*.log")) if log_dir.exists() else []
    if process is None:
        if not files:
            _fail(f"no logs in {log_dir}")
        for f in files:
            click.echo(f.stem)
        return
    matches = [f for f in files if f.stem == process] or [f for f in files
                                                          if f.stem.startswith(process)]
    if not matches:
        _fail(f"no log named {process!r} in {log_dir}; `tradai-sim logs` lists them")
    for f in matches:
        if len(matches) > 1:
            click.echo(f"== {f.stem} ==")
        click.echo("\n".join(f.read_text(errors="replace").splitlines()[-lines:]))


@cli.command("mlflow-login")
@click.option("--user", default="operator@tradai.local", show_default=True,
              help="An MLflow user of the mlflow-users secret.")
@state_dir_option
def mlflow_login(user: str, state_dir: Path) -> None:
    """Print MLflow's URL on the gateway and a user's own MLflow login (never the admin's)."""
    import boto3

    from tradai.registry.credentials import USERS_SECRET, AuthSecretUnavailable, read_user
    from tradai_sim.cloud.context import EMULATOR_CREDENTIALS

    try:
        rec = launcher.running_stack(state_dir)
        if rec is None:
            raise StackError(f"no stack is running in {state_dir}; start one with "
                             f"`tradai-sim up --detach`")
        cloud = json.loads((state_dir / "cloud.json").read_text())
        sm = boto3.client("secretsmanager", endpoint_url=rec.endpoint,
                          region_name=cloud["region"], **{k.lower(): v for k, v in
                                                          EMULATOR_CREDENTIALS.items()})
        login = read_user(cloud["resources"]["secrets"][USERS_SECRET], user, sm)
    except (StackError, AuthSecretUnavailable, KeyError) as exc:
        _fail(f"no MLflow login for {user}: {exc}")
    # The gateway's /mlflow (the API's on AWS): MLflow's basic auth, no Cognito token.
    click.echo(f"url       {cloud['resources']['endpoints']['gateway']}/mlflow/")
    click.echo(f"username  {login.username}")
    click.echo(f"password  {login.password}")


cli.add_command(fault)
cli.add_command(alerts)
cli.add_command(drill)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
