"""Print what ``sitecustomize.py`` sampled: per route and process, CPU ms by function, as the
running leaf (self) and anywhere on the stack (inclusive).

    .venv/bin/python benchmarks/profile_hook/report.py DIR [--top 25] [--label submit]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--label")
    args = ap.parse_args()
    for path in sorted(args.dir.glob("*.json")):
        label = path.stem.rsplit("-", 1)[0]
        if args.label and label != args.label:
            continue
        data = json.loads(path.read_text())
        if data["cpu_ms"] < 50:  # a process the load did not touch
            continue
        print(f"== {label} {' '.join(data['argv'])[:90]}: {data['cpu_ms']:.0f} ms sampled")
        for kind in ("leaf", "total"):
            print(f"  -- {kind}")
            for where, ms in data[kind][:args.top]:
                print(f"  {ms:9.1f}  {where}")


if __name__ == "__main__":
    main()
