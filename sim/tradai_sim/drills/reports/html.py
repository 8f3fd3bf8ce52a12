"""The HTML pages: one per drill run (verdict, invariants, picture, timeline), and an index for
a suite (one line per drill: verdict, simulated duration, wall time)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from tradai_sim.drills.context import Event
from tradai_sim.drills.verdicts import Outcome

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.4em} .ok{color:#1a7f37} .bad{color:#cf222e}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.9em}
td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa} .kind{font-size:.8em;border-radius:3px;padding:0 .4em;color:#fff}
.fault{background:#cf222e}.recovery{background:#1a7f37}.alarm,.alert{background:#9a6700}
.infra,.load,.activity,.note{background:#57606a} .desc{white-space:pre-wrap;color:#444}
"""


@dataclass
class RunSummary:
    drill: str
    title: str
    description: str
    ok: bool
    status: str
    simulated_s: float
    wall_s: float
    failures: list[str]
    notes: list[str]
    report_dir: str = ""

    @property
    def ratio(self) -> float:
        return self.simulated_s / self.wall_s if self.wall_s else 0.0


def drill_page(run: RunSummary, outcomes: list[Outcome], events: list[Event], start: float,
               picture: str | None) -> str:
    verdict = ("<span class=ok>passed</span>" if run.ok
               else "<span class=bad>FAILED</span>")
    rows = "".join(
        f"<tr><td>{'before' if o.phase == 'before' else 'after'}</td>"
        f"<td class={'ok' if o.ok else 'bad'}>{'held' if o.ok else 'FAILED'}</td>"
        f"<td>{_e(o.name)}</td><td>{_e(_value(o))}</td>"
        f"<td>{'' if o.deadline is None else f'{o.deadline:g} {_e(o.unit)}'}</td>"
        f"<td>{_e(o.detail)}</td></tr>" for o in outcomes)
    timeline = "".join(
        f"<tr><td>+{(e.at - start):.0f} s</td><td>{_iso(e.at)}</td>"
        f"<td><span class='kind {e.kind}'>{_e(e.kind)}</span></td><td>{_e(e.text)}</td></tr>"
        for e in events)
    notes = "".join(f"<li>{_e(n)}</li>" for n in run.notes)
    return f"""<!doctype html><html><head><meta charset=utf-8><title>{_e(run.title)}</title>
<style>{STYLE}</style></head><body>
<h1>{_e(run.title)}: {verdict}</h1>
<p class=desc>{_e(run.description)}</p>
<p>Status <b>{_e(run.status)}</b>. {run.simulated_s:.0f} simulated seconds in {run.wall_s:.1f}
wall seconds ({run.ratio:.0f}x).</p>
{f'<ul>{notes}</ul>' if notes else ''}
<h2>Invariants</h2>
<table><tr><th>when</th><th>verdict</th><th>invariant</th><th>measured</th><th>deadline</th>
<th>detail</th></tr>{rows}</table>
{f'<h2>Recovery</h2><img src="{picture}" alt="recovery over simulated time">' if picture else ''}
<h2>Timeline</h2>
<table><tr><th>since start</th><th>simulated time</th><th>what</th><th></th></tr>{timeline}
</table>
<p>Files: <a href="journal.json">Chaos Toolkit journal</a>, <a href="junit.xml">JUnit XML</a>.</p>
</body></html>"""


def index_page(runs: list[RunSummary]) -> str:
    rows = "".join(
        f"<tr><td><a href='{_e(r.drill)}/report.html'>{_e(r.drill)}</a></td>"
        f"<td class={'ok' if r.ok else 'bad'}>{'passed' if r.ok else 'FAILED'}</td>"
        f"<td>{r.simulated_s:.0f} s</td><td>{r.wall_s:.1f} s</td><td>{r.ratio:.0f}x</td>"
        f"<td>{_e('; '.join(r.failures))}</td></tr>" for r in runs)
    total_sim = sum(r.simulated_s for r in runs)
    total_wall = sum(r.wall_s for r in runs)
    return f"""<!doctype html><html><head><meta charset=utf-8><title>TradAI drills</title>
<style>{STYLE}</style></head><body><h1>TradAI drills</h1>
<p>{sum(r.ok for r in runs)} of {len(runs)} passed; {total_sim:.0f} simulated seconds in
{total_wall:.0f} wall seconds.</p>
<table><tr><th>drill</th><th>verdict</th><th>simulated</th><th>wall</th><th>ratio</th>
<th>failed invariants</th></tr>{rows}</table></body></html>"""


def _value(o: Outcome) -> str:
    if o.value is None:
        return "never" if o.phase == "after" and not o.ok else ""
    return f"{o.value:g} {o.unit}".strip() if isinstance(o.value, int | float) else str(o.value)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _e(text: object) -> str:
    return html.escape(str(text))
