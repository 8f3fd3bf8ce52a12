"""Where an idle local cloud spends its CPU: starts a cloud (time scale 20), lets its services
and seed settle, samples every process of the stack for ``--seconds`` with
``profile_hook/`` and prints each process's CPU milliseconds by function.

    .venv/bin/python benchmarks/profile_idle.py [--settle 60] [--seconds 20] [--top 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "benchmarks" / "profile_hook"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settle", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="idle-profile-"))
    # Every process the cloud starts inherits these: the hook samples while out/on exists.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HOOK), os.environ.get("PYTHONPATH")) if p)
    os.environ["BENCH_PROFILE_DIR"] = str(out)
    sys.path.insert(0, str(ROOT))
    from tests.integration.cloud import start_cloud

    cloud = start_cloud(Path(tempfile.mkdtemp(prefix="idle-cloud-")), time_scale=20.0)
    try:
        time.sleep(args.settle)
        (out / "on").write_text("idle")
        time.sleep(args.seconds)
        (out / "on").unlink()
        time.sleep(3)  # each process writes its samples when the flag goes
    finally:
        cloud.stop()
    print(f"CPU over {args.seconds:.0f} s of an idle stack (samples in {out}):")
    subprocess.run([sys.executable, str(HOOK / "report.py"), str(out), "--top",
                    str(args.top)], check=True)


if __name__ == "__main__":
    main()
