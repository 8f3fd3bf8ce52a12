"""``tradai trade``: start, list, show and stop dry-run and live trading sessions."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Column, Table

from tradai.cli import render
from tradai.cli.api import CliError

BASE = "/api/v1/trading/sessions"


@click.group()
def trade() -> None:
    """Dry-run and live trading sessions (one ECS service each)."""


@trade.command("start")
@click.option("--strategy", "-s", required=True)
@click.option("--alias", help="Follow this alias (e.g. champion); moving it hot-swaps")
@click.option("--version", "version_", type=int, help="Run this version only")
@click.option("--mode", type=click.Choice(["dry-run", "live"]), default="dry-run",
              show_default=True)
@click.pass_obj
def trade_start(ctx: Any, strategy: str, alias: str | None, version_: int | None,
                mode: str) -> None:
    if (alias is None) == (version_ is None):
        raise CliError("give --alias or --version (one of them)")
    body = {k: v for k, v in {"strategy": strategy, "alias": alias, "version": version_,
                              "mode": mode}.items() if v is not None}
    ctx.out(ctx.client().request("POST", BASE, json=body), lambda s: render.console.print(
        f"{s['session_id']} {s['status']} ({s.get('capacity_provider')})"))


@trade.command("list")
@click.pass_obj
def trade_list(ctx: Any) -> None:
    ctx.out(ctx.client().request("GET", BASE), lambda d: sessions(d["sessions"]))


@trade.command("show")
@click.argument("session_id")
@click.pass_obj
def trade_show(ctx: Any, session_id: str) -> None:
    ctx.out(ctx.client().request("GET", f"{BASE}/{session_id}"), session)


@trade.command("stop")
@click.argument("session_id")
@click.pass_obj
def trade_stop(ctx: Any, session_id: str) -> None:
    ctx.out(ctx.client().request("DELETE", f"{BASE}/{session_id}"),
            lambda s: render.console.print(f"{s['session_id']} {s['status']}"))


def _age(s: dict[str, Any]) -> str:
    age = s.get("heartbeat_age_seconds")
    return "-" if age is None else f"{age:.0f} s"


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def sessions(items: list[dict[str, Any]]) -> None:
    # The id names the mode; no column wraps (ids and statuses are what users copy).
    table = Table(*(Column(h, no_wrap=True) for h in (
        "session", "status", "follows", "version", "heartbeat", "open", "profit")))
    for s in items:
        table.add_row(s["session_id"], s["status"], s.get("ref") or "-",
                      _num(s.get("version"), "v{}"), _age(s), _num(s.get("open_trades"), "{}"),
                      _num(s.get("profit_abs")))
    render.console.print(table)


def session(s: dict[str, Any]) -> None:
    render.console.print(f"[bold]{s['session_id']}[/bold]  {s['status']}  {s['mode']}  "
                         f"{s['strategy']} follows {s.get('ref')}  "
                         f"version {_num(s.get('version'), '{}')}", highlight=False)
    render.console.print(f"  heartbeat age {_age(s)}  last candle {s.get('last_candle') or '-'}"
                         f"  open trades {_num(s.get('open_trades'), '{}')}  profit "
                         f"{_num(s.get('profit_abs'))} ({_num(s.get('profit_pct'))} %)  "
                         f"on {s.get('capacity_provider') or '-'}", highlight=False)
    if s.get("error"):
        render.console.print(f"  [red]error:[/red] {s['error']}")
    trades = s.get("recent_trades") or []
    if trades:
        keys = sorted({k for t in trades for k in t})
        table = Table(*keys)
        for t in trades:
            table.add_row(*(str(t.get(k, "")) for k in keys))
        render.console.print(table)
