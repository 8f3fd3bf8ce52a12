"""The picture of a recovery: the sampled series over simulated time, faults shaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradai_sim.drills.context import Event

PANELS = (("egress ", "egress works (1) per private subnet"),
          ("healthy ", "healthy ALB targets per service and AZ"),
          ("service tasks ", "running service tasks per AZ"),
          ("queue ", "messages in the queues"),
          ("tickets ", "tickets by state"))


def recovery_png(samples: list[dict[str, Any]], events: list[Event], start: float,
                 path: Path, title: str) -> bool:
    """Write the PNG; False when there is nothing to draw."""
    if not samples:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display: a file for the report
    import matplotlib.pyplot as plt

    panels = [(prefix, label) for prefix, label in PANELS
              if any(k.startswith(prefix) for s in samples for k in s)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.1 * len(panels) + 0.6),
                             sharex=True, squeeze=False)
    minutes = [(s["t"] - start) / 60 for s in samples]
    faults = [(e.at - start) / 60 for e in events if e.kind == "fault"]
    for ax, (prefix, label) in zip(axes[:, 0], panels, strict=True):
        keys = sorted({k for s in samples for k in s if k.startswith(prefix)})
        for key in keys:
            ax.step(minutes, [s.get(key, 0) for s in samples], where="post",
                    label=key[len(prefix):])
        for x in faults:
            ax.axvline(x, color="tab:red", alpha=0.35, linewidth=1)
        ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        ax.legend(fontsize=7, loc="upper right", ncol=min(len(keys), 4))
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("simulated minutes since the drill started (red: fault events)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
