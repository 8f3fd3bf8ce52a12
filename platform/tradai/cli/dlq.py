"""``tradai dlq``: the deployment's dead-letter queues, and replaying one back to its source.

Straight to SQS with boto3 (``AWS_ENDPOINT_URL`` points at the local cloud; nothing else
differs on AWS). Queue names come from the topology spec and the deployment's env
(``--env`` / ``TRADAI_ENV``). Bad input is one line and exit status 1.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.table import Table

from tradai.cli import render
from tradai.cli.api import CliError
from tradai.clock import default_clock
from tradai.redrive.deployment import Deployment, QueueRef
from tradai.redrive.errors import RedriveError
from tradai.redrive.sqs import MoveTask, QueueState, Redrive, progress
from tradai.settings import aws_client
from tradai.topology import SpecError, default_topology, load_topology

F = TypeVar("F", bound=Callable[..., Any])
POLL_SECONDS = 0.5
MIN_RATE, MAX_RATE = 1, 500  # StartMessageMoveTask's MaxNumberOfMessagesPerSecond


class DlqCtx:
    def __init__(self, env: str, spec: str | None, as_json: bool) -> None:
        self.env, self.spec, self.json = env, spec, as_json

    def deployment(self) -> Deployment:
        topology = load_topology(self.spec) if self.spec else default_topology()
        return Deployment(topology, self.env)

    def redrive(self) -> Redrive:
        return Redrive(aws_client("sqs"), aws_client("cloudwatch"), default_clock())


def one_line_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (RedriveError, SpecError) as exc:
            raise CliError(str(exc)) from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise CliError(f"{err.get('Code', 'error')}: {err.get('Message', exc)}") from None
        except BotoCoreError as exc:
            raise CliError(f"SQS did not answer: {exc}") from None

    return wrapper  # type: ignore[return-value]


pass_dlq = click.make_pass_decorator(DlqCtx)


@click.group()
@click.option("--env", envvar="TRADAI_ENV", default="local", show_default=True,
              help="The deployment (queues are named <project>-<env>-<name>); or TRADAI_ENV")
@click.option("--spec", type=click.Path(dir_okay=False), default=None,
              help="Topology spec file (default: the packaged one)")
@click.pass_context
def dlq(ctx: click.Context, env: str, spec: str | None) -> None:
    """Dead-letter queues: what waits in them, and replaying them to their source queues."""
    root = ctx.find_root().obj
    ctx.obj = DlqCtx(env, spec, bool(getattr(root, "json", False)))


@dlq.command("list")
@pass_dlq
@one_line_errors
def list_(ctx: DlqCtx) -> None:
    """Each DLQ: its source queue, messages waiting, the oldest one's age, active replays."""
    deployment, redrive = ctx.deployment(), ctx.redrive()
    rows = []
    for d in deployment.dead_letter_queues():
        row: dict[str, Any] = {"queue": d.logical, "name": d.name, "sources": list(d.sources)}
        try:
            state = redrive.state(QueueRef(d.name))
        except RedriveError as exc:  # one missing queue does not hide the others
            rows.append({**row, "error": str(exc)})
            continue
        age = redrive.oldest_age(d.name) if state.waiting or state.in_flight else None
        rows.append({**row, "sources": [deployment.logical_of(s) or s for s in state.sources]
                     or list(d.sources), "waiting": state.waiting, "in_flight": state.in_flight,
                     "oldest_age_seconds": age,
                     "active_replays": [_task(t) for t in state.tasks if t.active]})
    if ctx.json:
        click.echo(json.dumps({"env": ctx.env, "dead_letter_queues": rows}, indent=2))
        return
    table = Table("dead-letter queue", "source", "waiting", "in flight", "oldest",
                  "active replays", title=f"Dead-letter queues ({ctx.env})")
    for r in rows:
        if "error" in r:
            table.add_row(r["queue"], ", ".join(r["sources"]), "-", "-", "-", r["error"])
            continue
        replays = "; ".join(f"{t['status']} {t['moved']}/{t['to_move']}"
                            for t in r["active_replays"]) or "-"
        table.add_row(r["queue"], ", ".join(r["sources"]), str(r["waiting"]),
                      str(r["in_flight"]), _age(r["oldest_age_seconds"]), replays)
    render.console.print(table)


@dlq.command()
@click.argument("queue")
@click.option("--rate", type=int, default=None,
              help="Messages per second (1-500); SQS chooses when left out")
@click.option("--wait", "wait_", is_flag=True, help="Show progress until the replay ends")
@click.option("--timeout", default=3600.0, show_default=True,
              help="With --wait: give up after this many seconds (exit 2)")
@pass_dlq
@one_line_errors
def replay(ctx: DlqCtx, queue: str, rate: int | None, wait_: bool, timeout: float) -> None:
    """Move QUEUE's messages back to the queues they came from (QUEUE: spec name, URL or
    ARN)."""
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise CliError(f"--rate must be {MIN_RATE} to {MAX_RATE} messages per second, "
                       f"got {rate}")
    deployment, redrive = ctx.deployment(), ctx.redrive()
    dlq_state = redrive.dead_letter_queue(deployment.resolve(queue))
    handle = redrive.replay(dlq_state, rate)
    targets = ", ".join(deployment.logical_of(s) or s for s in dlq_state.sources)
    if not ctx.json:
        _say(f"replaying {dlq_state.waiting} message(s) from {dlq_state.name} back to "
             f"{targets}" + (f" at {rate}/s" if rate else ""))
    if not wait_:
        if ctx.json:
            click.echo(json.dumps({"queue": dlq_state.name, "task_handle": handle}))
        return
    final = _follow(ctx, redrive, dlq_state, handle, timeout)
    if ctx.json:
        click.echo(json.dumps({"queue": dlq_state.name, "task": _task(final)}))
    if final.status != "COMPLETED":
        why = f": {final.failure}" if final.failure else ""
        _fail(f"the replay of {dlq_state.name} ended {final.status}{why} "
              f"({progress(final)})", 1)
    if not ctx.json:
        _say(f"done: {progress(final)}")


@dlq.command()
@click.argument("queue")
@pass_dlq
@one_line_errors
def cancel(ctx: DlqCtx, queue: str) -> None:
    """Stop QUEUE's running replay (what moved stays moved)."""
    deployment, redrive = ctx.deployment(), ctx.redrive()
    dlq_state = redrive.dead_letter_queue(deployment.resolve(queue))
    moved = redrive.cancel(dlq_state)
    if ctx.json:
        click.echo(json.dumps({"queue": dlq_state.name, "moved": moved}))
    else:
        _say(f"cancelling the replay of {dlq_state.name}: {moved} message(s) moved before "
             f"it stopped")


def _follow(ctx: DlqCtx, redrive: Redrive, dlq_state: QueueState, handle: str,
            timeout: float) -> MoveTask:
    """Poll the task, one line per change of its progress, until it is no longer active."""
    deadline = time.monotonic() + timeout
    shown = None
    while True:
        task = redrive.task(dlq_state, handle)
        if task is None:
            raise RedriveError(f"the replay of {dlq_state.name} is no longer listed by SQS")
        line = f"{task.status} {progress(task)}"
        if line != shown and not ctx.json:
            _say(f"  {line}")
        shown = line
        if not task.active:
            return task
        if time.monotonic() > deadline:
            _fail(f"the replay of {dlq_state.name} is still {task.status} after "
                  f"{timeout:g} s ({progress(task)})", 2)
        time.sleep(POLL_SECONDS)


def _say(line: str) -> None:
    """One line as it is, never wrapped (scripts and drills read these)."""
    render.console.print(line, soft_wrap=True, highlight=False, markup=False)


def _fail(line: str, status: int) -> None:
    render.err.print(f"Error: {line}", soft_wrap=True, highlight=False, markup=False)
    sys.exit(status)


def _task(task: MoveTask) -> dict[str, Any]:
    return {"status": task.status, "moved": task.moved, "to_move": task.to_move,
            "started": task.started, "rate": task.rate, "failure": task.failure}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
