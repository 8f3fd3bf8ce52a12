"""A failed run's comparison backtests are cancelled (the Retraining workflow's failure path,
cleanup-resources): once the run is FAILED nobody reads their results, and a backtest the run
submitted would otherwise keep a backtest slot and a strategy task until it finished.

They are cancelled as their owner would cancel them (``tradai.backtests.cancel``): the ticket
CANCELLED first, in one conditional write, then its execution and its task stopped. A
comparison backtest that already finished, or whose ticket expired, is left as it is.
"""

from __future__ import annotations

from typing import Any

from tradai.backtests.cancel import Canceller, CancelRefused
from tradai.backtests.service import Owner
from tradai.retraining.runs import ROLES, RunStore
from tradai.retraining.settings import WORKFLOW_ACTOR

CANCELLED, FINISHED, GONE = "cancelled", "already finished", "gone"


def abandon_comparison(runs: RunStore, canceller: Canceller, strategy: str,
                       requested_at: str) -> dict[str, str]:
    """Each comparison job of the run -> what became of it (``cancelled``, ``already
    finished``, ``gone``); empty when the run submitted none (or is unknown)."""
    run: dict[str, Any] = runs.get(strategy, requested_at) or {}
    # The comparison submits as the workflow (tradai.retraining.steps.Comparison.submit).
    owner = Owner(id=WORKFLOW_ACTOR, name=f"retraining {run.get('run_id')}")
    outcome: dict[str, str] = {}
    for role in ROLES:
        job = run.get(f"{role}_job")
        if not job:
            continue
        try:
            canceller.cancel(str(job), owner)
            outcome[str(job)] = CANCELLED
        except CancelRefused as refused:
            if refused.status == 409:
                outcome[str(job)] = FINISHED
            elif refused.status == 404:
                outcome[str(job)] = GONE
            else:  # 403: not the workflow's job, which the run never records
                raise
    return outcome
