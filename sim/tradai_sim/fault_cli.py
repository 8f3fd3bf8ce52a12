"""``tradai-sim fault``: list the fault templates, start one as a FIS experiment in the running
stack, follow it, show experiments, stop one. Bad input is one line and exit status 1."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from tradai_sim.fault_client import TERMINAL, FaultError, StackFis, template, templates
from tradai_sim.stack.state import DEFAULT_STATE_DIR

POLL_SECONDS = 0.5
F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True, soft_wrap=True)
state_dir_option = click.option(
    "--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR,
    show_default=True, help="Where the stack keeps its state and logs.")
dir_option = click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
                          help="Template directory (default: scenarios/faults).")


def _one_line_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FaultError as exc:
            message = str(exc)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            message = f"{err.get('Code', 'error')}: {err.get('Message', exc)}"
        except BotoCoreError as exc:
            message = f"the stack's FIS API did not answer: {exc}"
        console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group()
def fault() -> None:
    """Faults as AWS FIS experiments in the local cloud (templates in scenarios/faults)."""


@fault.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@dir_option
@_one_line_errors
def list_(as_json: bool, directory: Path | None) -> None:
    """The templates: name, kind (aws: deployable to AWS FIS; harness: local only), what it
    does."""
    found = templates(directory)
    if as_json:
        click.echo(json.dumps({n: {"kind": t.kind, "description": t.description}
                               for n, t in found.items()}))
        return
    table = Table("template", "kind", "description", title="Fault templates")
    for name, tpl in found.items():
        table.add_row(name, tpl.kind, tpl.description)
    Console().print(table)


@fault.command()
@click.argument("name")
@click.option("--wait", is_flag=True, help="Follow the action states until the experiment ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the experiment as JSON.")
@dir_option
@state_dir_option
@_one_line_errors
def start(name: str, wait: bool, as_json: bool, directory: Path | None,
          state_dir: Path) -> None:
    """Start template NAME as an experiment in the running stack; prints its id."""
    tpl = template(name, directory)
    stack = StackFis(state_dir)
    experiment = stack.start(tpl)
    if not wait:
        click.echo(json.dumps(experiment, default=str) if as_json else experiment["id"])
        return
    if not as_json:
        click.echo(f"{experiment['id']}  {name}")
    final = _follow(stack, experiment["id"], quiet=as_json)
    if as_json:
        click.echo(json.dumps(final, default=str))
    if final["state"]["status"] != "completed":
        sys.exit(1)


def _follow(stack: StackFis, experiment_id: str, quiet: bool) -> dict[str, Any]:
    """Print each change of the experiment's and its actions' states until it ends."""
    seen: dict[str, str] = {}
    started = time.time()
    while True:
        experiment = stack.get(experiment_id)
        states = {"(experiment)": experiment["state"]}
        states.update({n: a["state"] for n, a in sorted(experiment.get("actions", {}).items())})
        for who, state in states.items():
            line = f"{state['status']}" + (f": {state['reason']}" if state.get("reason") else "")
            if seen.get(who) != line and not quiet:
                click.echo(f"{time.time() - started:6.1f} s  {who:<28} {line}")
            seen[who] = line
        if experiment["state"]["status"] in TERMINAL:
            return experiment
        time.sleep(POLL_SECONDS)


@fault.command()
@click.argument("experiment_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@state_dir_option
@_one_line_errors
def status(experiment_id: str | None, as_json: bool, state_dir: Path) -> None:
    """The stack's experiments (or one) with their state and each action's state."""
    stack = StackFis(state_dir)
    found = [stack.get(experiment_id)] if experiment_id else stack.experiments()
    if as_json:
        click.echo(json.dumps(found if not experiment_id else found[0], default=str))
        return
    table = Table("experiment", "template", "state", "reason", "actions", title="Experiments")
    for e in found:
        actions = "\n".join(f"{n}: {a['state']['status']}"
                            for n, a in sorted(e.get("actions", {}).items()))
        table.add_row(e["id"], e.get("tags", {}).get("Name", e.get("experimentTemplateId", "")),
                      e["state"]["status"], e["state"].get("reason", ""), actions)
    Console().print(table)


@fault.command()
@click.argument("experiment_id")
@state_dir_option
@_one_line_errors
def stop(experiment_id: str, state_dir: Path) -> None:
    """Stop an experiment: pending actions are cancelled, running ones undone."""
    experiment = StackFis(state_dir).stop(experiment_id)
    click.echo(f"{experiment_id}  {experiment['state']['status']}: "
               f"{experiment['state'].get('reason', '')}")
