"""The ``tradai`` command: ``login``, ``strategies``, ``retraining``, ``data``, ``backtest``,
``trade``, ``dlq``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from tradai.cli import cognito, credentials, render
from tradai.cli.api import Api, CliError, resolve
from tradai.cli.dlq import dlq
from tradai.cli.trade import trade
from tradai.cli.wait import wait_for_backtest


class Ctx:
    def __init__(self, api: str | None, token: str | None, as_json: bool) -> None:
        self.api_flag, self.token_flag, self.json = api, token, as_json

    def client(self) -> Api:
        return Api(resolve(self.api_flag, self.token_flag))

    def out(self, data: Any, pretty: Callable[[Any], None]) -> None:
        if self.json:
            click.echo(json.dumps(data, indent=2))
        else:
            pretty(data)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group()
@click.option("--api", envvar="TRADAI_API_URL", help="Gateway URL (or TRADAI_API_URL)")
@click.option("--token", envvar="TRADAI_TOKEN", help="Use this access token (or TRADAI_TOKEN)")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables")
@click.pass_context
def cli(ctx: click.Context, api: str | None, token: str | None, as_json: bool) -> None:
    """TradAI: strategies, market data, backtests and trading sessions."""
    ctx.obj = Ctx(api, token, as_json)


@cli.command()
@click.option("--api", "api_url", envvar="TRADAI_API_URL", required=True, help="Gateway URL")
@click.option("--client-id", envvar="TRADAI_COGNITO_CLIENT_ID", help="Cognito app client id")
@click.option("--region", envvar="AWS_REGION", default="eu-central-1", show_default=True)
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL",
              help="Cognito endpoint (the local emulator); AWS when unset")
@click.option("--username", "-u", help="User name or e-mail")
@click.option("--password", envvar="TRADAI_PASSWORD", help="Prompted when not given")
@click.option("--token", "given_token", help="Store this token instead of signing in "
                                             "(e.g. from `tradai-sim token`)")
def login(api_url: str, client_id: str | None, region: str, endpoint_url: str | None,
          username: str | None, password: str | None, given_token: str | None) -> None:
    """Sign in with Cognito (USER_PASSWORD_AUTH) and remember the session."""
    creds = credentials.Credentials(api_url=api_url.rstrip("/"), region=region,
                                    client_id=client_id, endpoint_url=endpoint_url)
    if given_token:
        creds.access_token = given_token
    else:
        if not client_id:
            raise CliError("--client-id (or TRADAI_COGNITO_CLIENT_ID) is needed to sign in")
        username = username or click.prompt("Username")
        password = password or click.prompt("Password", hide_input=True)
        try:
            creds = cognito.password_login(creds, username or "", password or "")
        except cognito.LoginFailed as exc:
            raise CliError(f"login failed: {exc}") from None
    where = credentials.save(creds)
    render.console.print(f"logged in to {creds.api_url} (session in {where})")


@cli.group()
def strategies() -> None:
    """Registered strategies."""


@strategies.command("list")
@pass_ctx
def strategies_list(ctx: Ctx) -> None:
    data = ctx.client().request("GET", "/api/v1/strategies")
    ctx.out(data, lambda d: render.strategies(d["strategies"]))


@strategies.command("show")
@click.argument("name")
@pass_ctx
def strategies_show(ctx: Ctx, name: str) -> None:
    ctx.out(ctx.client().request("GET", f"/api/v1/strategies/{name}"), render.strategy)


@strategies.command("promote")
@click.argument("name")
@click.option("--alias", default="champion", show_default=True)
@click.option("--version", "version_", type=int, required=True, help="the version to point at")
@click.option("--reason", required=True, help="why (kept in the audit record)")
@pass_ctx
def strategies_promote(ctx: Ctx, name: str, alias: str, version_: int, reason: str) -> None:
    """Point an alias at a version (operator). Live sessions following it hot-swap."""
    event = ctx.client().request("POST", f"/api/v1/strategies/{name}/aliases/{alias}",
                                 json={"version": version_, "reason": reason})
    ctx.out(event, render.audit_event)


@strategies.command("rollback")
@click.argument("name")
@click.option("--alias", default="champion", show_default=True)
@click.option("--reason", required=True, help="why (kept in the audit record)")
@pass_ctx
def strategies_rollback(ctx: Ctx, name: str, alias: str, reason: str) -> None:
    """Move an alias back to where its last recorded move found it (operator)."""
    event = ctx.client().request("POST", f"/api/v1/strategies/{name}/rollback",
                                 json={"alias": alias, "reason": reason})
    ctx.out(event, render.audit_event)


@strategies.command("audit")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@pass_ctx
def strategies_audit(ctx: Ctx, name: str, limit: int) -> None:
    """Who moved which alias of NAME, when, from which version to which, and why."""
    data = ctx.client().request("GET", f"/api/v1/strategies/{name}/audit",
                                params={"limit": limit})
    ctx.out(data, lambda d: render.audit(d["events"]))


@strategies.command("drift")
@click.argument("name")
@pass_ctx
def strategies_drift(ctx: Ctx, name: str) -> None:
    """The drift state of NAME's champion: PSI per feature, OK or DRIFTING."""
    ctx.out(ctx.client().request("GET", f"/api/v1/strategies/{name}/drift"), render.drift)


@strategies.command("retrain")
@click.argument("name")
@click.option("--reason", default="requested by an operator", show_default=True)
@click.option("--margin", type=float, default=None,
              help="this run's margin on the metrics (default: the deployment's)")
@pass_ctx
def strategies_retrain(ctx: Ctx, name: str, reason: str, margin: float | None) -> None:
    """Queue a retraining run of NAME now (operator): train a challenger, compare, promote
    or keep."""
    body: dict[str, Any] = {"reason": reason}
    if margin is not None:
        body["margin"] = margin
    ctx.out(ctx.client().request("POST", f"/api/v1/strategies/{name}/retrain", json=body),
            render.retraining_run)


@cli.group()
def retraining() -> None:
    """Retraining runs of model-driven strategies."""


@retraining.command("list")
@click.option("--strategy", default=None, help="only this strategy's runs")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@pass_ctx
def retraining_list(ctx: Ctx, strategy: str | None, limit: int) -> None:
    """Runs, newest first: state, champion and challenger metrics, decision."""
    params: dict[str, Any] = {"limit": limit}
    if strategy:
        params["strategy"] = strategy
    data = ctx.client().request("GET", "/api/v1/retraining", params=params)
    ctx.out(data, lambda d: render.retraining_runs(d["runs"]))


@cli.group()
def data() -> None:
    """Market data."""


@data.command("freshness")
@pass_ctx
def data_freshness(ctx: Ctx) -> None:
    ctx.out(ctx.client().request("GET", "/api/v1/data/freshness"), render.freshness)


@cli.group()
def backtest() -> None:
    """Submit and follow backtests."""


@backtest.command("submit")
@click.option("--strategy", "-s", required=True)
@click.option("--alias", help="Version alias, e.g. champion")
@click.option("--version", "version_", type=int, help="Version number")
@click.option("--pair", "pairs", multiple=True, help="Repeat for several pairs: BTC/USDT")
@click.option("--timeframe", help="e.g. 5m; the version's when left out")
@click.option("--timerange", help="YYYYMMDD-YYYYMMDD")
@click.option("--mode", type=click.Choice(["backtest", "hyperopt"]), default=None,
              help="backtest (default) or hyperopt")
@click.option("--epochs", type=int, help="Hyperopt epochs")
@click.option("--idempotency-key", help="Retries with the same key get the same ticket")
@click.option("--wait", "wait_", is_flag=True, help="Then wait for the result")
@pass_ctx
def backtest_submit(ctx: Ctx, strategy: str, alias: str | None, version_: int | None,
                    pairs: tuple[str, ...], timeframe: str | None, timerange: str | None,
                    mode: str | None, epochs: int | None, idempotency_key: str | None,
                    wait_: bool) -> None:
    body = {k: v for k, v in {"strategy": strategy, "alias": alias, "version": version_,
                              "pairs": list(pairs) or None, "timeframe": timeframe,
                              "timerange": timerange, "mode": mode,
                              "epochs": epochs}.items() if v is not None}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    client = ctx.client()
    ticket = client.request("POST", "/api/v1/backtests", json=body, headers=headers)
    ctx.out(ticket, lambda t: render.console.print(
        f"{t['ticket_id']} {t['status']}{' (already submitted)' if t.get('duplicate') else ''}"))
    if wait_:
        _finish(ctx, wait_for_backtest(client, ticket["job_id"], 2.0, 3600))


@backtest.command("status")
@click.argument("job_id")
@pass_ctx
def backtest_status(ctx: Ctx, job_id: str) -> None:
    ctx.out(ctx.client().request("GET", f"/api/v1/backtests/{job_id}"), render.backtest)


@backtest.command("list")
@click.option("--limit", default=20, show_default=True)
@pass_ctx
def backtest_list(ctx: Ctx, limit: int) -> None:
    data = ctx.client().request("GET", "/api/v1/backtests", params={"limit": limit})

    def table(d: dict[str, Any]) -> None:
        for b in d["backtests"]:
            render.console.print(f"{b['job_id']}  {b['status']:<9} {b['progress']:>3.0f}%  "
                                 f"{b['strategy']} v{b.get('version')}  {b['created_at']}")
    ctx.out(data, table)


@backtest.command("cancel")
@click.argument("job_id", required=False)
@click.option("--all-queued", is_flag=True, help="Cancel every backtest of yours still QUEUED")
@pass_ctx
def backtest_cancel(ctx: Ctx, job_id: str | None, all_queued: bool) -> None:
    """Cancel JOB_ID (queued: it never starts; running: its workflow and task are stopped),
    or with --all-queued every one of your queued backtests. Only your own backtests."""
    if bool(job_id) == all_queued:
        raise CliError("give a JOB_ID or --all-queued (one of them)")
    client = ctx.client()
    if all_queued:
        done = client.request("DELETE", "/api/v1/backtests", params={"status": "QUEUED"})
        ctx.out(done, render.cancelled)
        return
    try:
        status = client.request("DELETE", f"/api/v1/backtests/{job_id}")
    except CliError as exc:
        raise CliError(f"cannot cancel {job_id}: {exc.message}") from None
    ctx.out(status, render.backtest)


@backtest.command("wait")
@click.argument("job_id")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls")
@click.option("--timeout", default=3600.0, show_default=True, help="Give up after (s)")
@pass_ctx
def backtest_wait(ctx: Ctx, job_id: str, interval: float, timeout: float) -> None:
    """Follow a backtest; exit 0 when COMPLETED, 1 when FAILED or CANCELLED (with the reason
    or who cancelled it), 2 on timeout."""
    try:
        status = wait_for_backtest(ctx.client(), job_id, interval, timeout)
    except TimeoutError as exc:
        render.err.print(f"Error: {exc}")
        sys.exit(2)
    _finish(ctx, status)


def _finish(ctx: Ctx, status: dict[str, Any]) -> None:
    ctx.out(status, render.backtest)
    if status["status"] == "FAILED":
        render.err.print(f"Error: backtest failed: {status.get('error')}")
        sys.exit(1)
    if status["status"] == "CANCELLED":
        render.err.print(f"Error: backtest cancelled by {status.get('cancelled_by') or '?'} "
                         f"at {status.get('cancelled_at') or '?'}")
        sys.exit(1)


cli.add_command(dlq)
cli.add_command(trade)


def main() -> None:
    cli()


