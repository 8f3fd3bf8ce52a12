"""The verdicts of a run, read back from the Chaos Toolkit journal.

Every steady-state probe of the drill extension answers a verdict (``invariants.Verdict``);
probes of other extensions answer anything, and their tolerance decides. Before the method they
are the steady state; after it, the invariants the drill proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    phase: str  # "before" or "after"
    name: str
    ok: bool
    value: Any
    unit: str
    deadline: float | None
    detail: str

    def line(self) -> str:
        measured = "never" if self.value is None else (
            f"{self.value:g} {self.unit}".strip() if isinstance(self.value, int | float)
            else str(self.value))
        limit = "" if self.deadline is None else f", deadline {self.deadline:g} {self.unit}"
        return f"{self.name}: measured {measured}{limit}: {self.detail}"


def outcomes(journal: dict[str, Any]) -> list[Outcome]:
    """Every probe of the hypothesis, before and after; the engine stops a phase at the first
    probe that fails, so the rest are listed as not evaluated."""
    declared = [p.get("name", "probe") for p in (journal.get("experiment", {}).get(
        "steady-state-hypothesis") or {}).get("probes", [])]
    out = []
    for phase in ("before", "after"):
        state = (journal.get("steady_states") or {}).get(phase)
        if state is None:
            continue
        runs = state.get("probes", [])
        out += [_outcome(phase, run) for run in runs]
        if not state.get("steady_state_met", True):
            out += [Outcome(phase, name, True, None, "", None,
                            "not evaluated: an earlier probe failed")
                    for name in declared[len(runs):]]
    return out


def _outcome(phase: str, run: dict[str, Any]) -> Outcome:
    activity = run.get("activity", {})
    output = run.get("output")
    ok = bool(run.get("tolerance_met"))
    if isinstance(output, dict) and "invariant" in output:
        return Outcome(phase, output["invariant"], ok, output.get("value"),
                       output.get("unit", ""), output.get("deadline"),
                       str(output.get("detail", "")))
    detail = run.get("exception") or f"output {output!r}"
    return Outcome(phase, activity.get("name", "probe"), ok, output, "", None,
                   str(detail)[-300:] if isinstance(detail, list | str) else str(detail))


def failed(journal: dict[str, Any]) -> list[Outcome]:
    """What made the run fail: a steady state not met before the fault, or an invariant
    after it (and a probe that raised)."""
    return [o for o in outcomes(journal) if not o.ok]
