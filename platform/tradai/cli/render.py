"""Rich output: tables for lists, a panel for one backtest."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)


def strategies(items: list[dict[str, Any]]) -> None:
    table = Table("name", "latest", "aliases", "description")
    for s in items:
        aliases = ", ".join(f"{a}={v}" for a, v in sorted((s.get("aliases") or {}).items()))
        table.add_row(s["name"], str(s.get("latest_version") or "-"), aliases,
                      s.get("description") or "")
    console.print(table)


def strategy(detail: dict[str, Any]) -> None:
    console.print(f"[bold]{detail['name']}[/bold]  {detail.get('description') or ''}")
    table = Table("version", "aliases", "timeframe", "pairs", "warmup days", "config")
    for v in detail.get("versions", []):
        table.add_row(str(v["version"]), ", ".join(v.get("aliases", [])), v["timeframe"],
                      ", ".join(v["pairs"]), str(v["warmup_days"]), v["config_s3_path"])
    console.print(table)


def _v(version: Any) -> str:
    return f"v{version}" if version is not None else "-"


def audit_event(e: dict[str, Any]) -> None:
    console.print(f"{e['action']}: {e['strategy']}@{e.get('alias') or '-'} "
                  f"{_v(e.get('from_version'))} -> {_v(e.get('to_version'))} "
                  f"by {e.get('actor_name') or e['actor']} at {e['at']}: {e.get('reason') or ''}")


def audit(events: list[dict[str, Any]]) -> None:
    table = Table("at", "action", "alias", "from", "to", "by", "roles", "reason")
    for e in events:
        table.add_row(e["at"], e["action"], e.get("alias") or "-", _v(e.get("from_version")),
                      _v(e.get("to_version")), e.get("actor_name") or e["actor"],
                      ", ".join(e.get("roles", [])), e.get("reason") or "")
    console.print(table)


def backtest(status: dict[str, Any]) -> None:
    req = status.get("request") or {}
    console.print(f"[bold]{status['job_id']}[/bold]  {status['status']}  "
                  f"{status.get('progress', 0):.0f}%")
    console.print(f"  strategy {status.get('strategy')} v{status.get('version')}  "
                  f"{req.get('timeframe', '')} {', '.join(req.get('pairs', []))} "
                  f"{req.get('timerange') or ''}")
    if status.get("result"):
        table = Table("metric", "value")
        for k, v in status["result"].items():
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
        console.print(table)
    if status.get("error"):
        console.print(f"  [red]error:[/red] {status['error']}")
    if status.get("mlflow_url"):
        console.print(f"  mlflow: {status['mlflow_url']}")
    if status.get("cancelled_by"):
        console.print(f"  cancelled by {status['cancelled_by']} at {status.get('cancelled_at')}",
                      highlight=False, markup=False)
    for event in status.get("events") or []:
        detail = f"  {event['detail']}" if event.get("detail") else ""
        console.print(f"  {event.get('at', '')}  {event.get('event')}{detail}",
                      highlight=False, markup=False)  # details quote errors verbatim
    timings = status.get("timings") or {}
    if timings:
        console.print("  seconds per stage: " + ", ".join(
            f"{stage} {seconds:.1f}" for stage, seconds in timings.items()), highlight=False)


def cancelled(data: dict[str, Any]) -> None:
    ids = data.get("job_ids") or []
    console.print(f"cancelled {data.get('cancelled', len(ids))} queued backtest"
                  f"{'' if len(ids) == 1 else 's'}", highlight=False)
    for job_id in ids:
        console.print(f"  {job_id}", highlight=False)


def freshness(data: dict[str, Any]) -> None:
    series = data.get("series")
    if not isinstance(series, list):
        console.print_json(data=data)
        return
    table = Table("pair", "timeframe", "verdict", "last candle", "age s", "rows")
    for s in series:
        table.add_row(str(s.get("pair")), str(s.get("timeframe")), str(s.get("verdict")),
                      str(s.get("last_candle") or "-"), str(s.get("age_seconds") or "-"),
                      str(s.get("rows", "-")))
    console.print(table)


def _metric(metrics: Any, name: str = "profit_total") -> str:
    value = (metrics or {}).get(name) if isinstance(metrics, dict) else None
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def retraining_runs(runs: list[dict[str, Any]]) -> None:
    """One line per run; the reason and every metric are in ``--json``."""
    table = Table("requested", "strategy", "state", "champion / challenger", "profit",
                  "decision")
    for r in runs:
        table.add_row(r["requested_at"], r["model_name"], r["state"],
                      f"{_v(r.get('champion_version'))} / {_v(r.get('challenger_version'))}",
                      f"{_metric(r.get('champion_metrics'))} / "
                      f"{_metric(r.get('challenger_metrics'))}",
                      r.get("decision") or "-")
    console.print(table)


def retraining_run(r: dict[str, Any]) -> None:
    console.print(f"retraining run {r['run_id']} of {r['model_name']}: {r['state']} "
                  f"(champion {_v(r.get('champion_version'))})")


def drift(d: dict[str, Any]) -> None:
    console.print(f"[bold]{d['model_name']}[/bold] v{d.get('version')}: {d.get('status')} "
                  f"(max PSI {d.get('max_psi')} on {d.get('max_feature')}, threshold "
                  f"{d.get('threshold')}, incidents {d.get('incidents', 0)})")
    table = Table("feature", "PSI")
    for feature, value in sorted((d.get("psi") or {}).items()):
        table.add_row(feature, f"{value:.4f}" if isinstance(value, int | float) else str(value))
    console.print(table)
