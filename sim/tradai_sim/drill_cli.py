"""``tradai-sim drill``: run failure playbooks against the local stack, with reports.

    tradai-sim drill nat-failover [--report DIR] [--json]
    tradai-sim drill nat-failover az-loss dlq-replay     (several, with an index page)
    tradai-sim drill --list
    tradai-sim drill --all [--report DIR]

Brings a stack up if none is running in ``--state-dir`` (and takes it down after), runs each
playbook with the Chaos Toolkit engine, prints live progress, and exits 1 if any invariant
failed, naming it with its measured value and deadline.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from tradai_sim.stack import launcher
from tradai_sim.stack.launcher import StackError
from tradai_sim.stack.state import DEFAULT_STATE_DIR

DEFAULT_REPORTS = Path(".tradai") / "reports"
DEFAULT_PORT = 4566
# Drills run at 10x: real work (a Lambda's cold start, a container's boot) counts time-scale
# times in simulated time, so a lower scale keeps recovery figures close to AWS's.
DEFAULT_TIME_SCALE = 10.0

console = Console(stderr=True, soft_wrap=True)


@click.command(name="drill")
@click.argument("names", nargs=-1)
@click.option("--list", "list_", is_flag=True, help="List the playbooks and what each proves.")
@click.option("--all", "all_", is_flag=True, help="Run every playbook, then write an index.")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help=f"Report folder (default {DEFAULT_REPORTS}/<time>).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as one JSON object.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR,
              show_default=True, help="The stack to run against (started if none runs).")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True,
              help="AWS endpoint port, if the drill starts the stack.")
@click.option("--time-scale", type=float, default=DEFAULT_TIME_SCALE, show_default=True,
              help="Simulated seconds per wall second, if the drill starts the stack.")
def drill(names: tuple[str, ...], list_: bool, all_: bool, report: Path | None,
          as_json: bool, state_dir: Path, port: int, time_scale: float) -> None:
    """Run failure playbooks (NAMES, or --all) and report what recovered."""
    from tradai_sim.drills import runner

    if list_:
        _list(runner)
        return
    chosen = list(runner.playbooks()) if all_ else list(names)
    if not chosen:
        _fail("name a drill, or pass --list or --all")
    try:
        for n in chosen:
            runner.load(n)  # an unknown or invalid playbook is refused before anything starts
    except runner.DrillError as exc:
        _fail(str(exc))
    several = len(chosen) > 1
    folder = report or DEFAULT_REPORTS / time.strftime("%Y%m%d-%H%M%S")
    started_stack = _ensure_stack(state_dir, port, time_scale)
    try:
        results = [_run_one(runner, n, state_dir, folder / n if several else folder)
                   for n in chosen]
    finally:
        if started_stack:
            launcher.stop(state_dir)
    if several:
        from tradai_sim.drills.reports.html import index_page

        (folder / "index.html").write_text(index_page([r.summary for r in results]))
    _finish(results, folder, as_json, several)


def _run_one(runner: object, name: str, state_dir: Path, folder: Path) -> object:
    from tradai_sim.drills.runner import DrillError, run_drill

    wall0 = time.time()
    with console.status(f"drill {name}") as status:
        def progress(msg: str) -> None:
            status.update(f"drill [bold]{name}[/] (wall {time.time() - wall0:.0f} s): {msg}")

        try:
            result = run_drill(name, state_dir, folder, progress)
        except DrillError as exc:
            _fail(f"drill {name}: {exc}")
    s = result.summary
    verdict = "[green]passed[/]" if s.ok else "[bold red]FAILED[/]"
    console.print(f"drill {name}: {verdict} ({s.simulated_s:.0f} simulated s in "
                  f"{s.wall_s:.0f} wall s); report {folder / 'report.html'}")
    for line in s.failures:
        console.print(f"  [red]invariant failed[/] {line}")
    for note in s.notes:
        console.print(f"  note: {note}")
    return result


def _finish(results: list[object], folder: Path, as_json: bool, all_: bool) -> None:
    summaries = [r.summary for r in results]  # type: ignore[attr-defined]
    if as_json:
        click.echo(json.dumps({"report": str(folder), "drills": [
            {**s.__dict__, "invariants": [o.__dict__ for o in r.outcomes]}  # type: ignore
            for s, r in zip(summaries, results, strict=True)]}, default=str))
    if all_:
        console.print(f"index: {folder / 'index.html'}")
    if not all(s.ok for s in summaries):
        sys.exit(1)


def _ensure_stack(state_dir: Path, port: int, time_scale: float) -> bool:
    """True if this command started the stack (and so takes it down)."""
    try:
        if launcher.running_stack(state_dir) is not None:
            return False
        with console.status("starting the local cloud") as status:
            launcher.start(state_dir, port, time_scale,
                           on_progress=lambda line: status.update(line))
    except StackError as exc:
        _fail(str(exc))
    return True


def _list(runner: object) -> None:
    from tradai_sim.drills.runner import load, playbooks

    for name in playbooks():
        experiment = load(name)
        title = experiment.get("title", "")
        click.echo(f"{name}: {title}")


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    sys.exit(1)
