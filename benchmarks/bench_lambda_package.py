"""Figures for the Lambda packaging (issue 16, item 4): the size of each artifact the Pulumi
program uploads (zipped and unzipped, against Lambda's limits), the layer's largest packages,
how long a build takes, and each handler's cold import time on the runtime's view of the
function: a fresh clean interpreter (``python -I -S -B``, no bytecode cache, as on Lambda's
read-only file system) with only the runtime's boto3/botocore besides the extracted archives
(tests/infra/lambda_runtime.py).

    .venv/bin/python benchmarks/bench_lambda_package.py [--reps 5] [--build-dir DIR]

Without ``--build-dir`` the build starts in an empty directory (uv's cache stays warm: the
time is installing and zipping, not downloading). A cold import here is this machine's CPU,
not Lambda's: on Lambda it scales with the function's memory (its CPU share).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

from common import pct

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.infra.lambda_runtime

from tests.infra.lambda_runtime import extract, import_handler
from tradai.topology import default_topology
from tradai_infra import lambda_package as lp
from tradai_infra.validate import missing_handlers

MB = 1_048_576


def largest_packages(layer: Path, n: int = 8) -> list[tuple[str, int]]:
    sizes: Counter[str] = Counter()
    with zipfile.ZipFile(layer) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            sizes[parts[1] if len(parts) > 2 else "(top-level files)"] += info.file_size
    return sizes.most_common(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="fresh interpreters per handler")
    parser.add_argument("--build-dir", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-lambda-") as tmp:
        build_dir = args.build_dir or Path(tmp) / "build"
        started = time.perf_counter()
        artifacts = lp.package_lambdas(build_dir=build_dir)
        built_s = time.perf_counter() - started
        started = time.perf_counter()
        again = lp.build_artifacts(build_dir)
        reuse_s = time.perf_counter() - started
        assert again == artifacts

        print(f"build: {built_s:.1f} s ({'reused' if args.build_dir else 'empty build dir'}); "
              f"a second build (reuse by content hash): {reuse_s:.2f} s")
        print(f"{'artifact':<46}{'zipped MB':>11}{'unzipped MB':>13}")
        for what, a in (("function code", artifacts.code), ("dependency layer", artifacts.layer)):
            label = f"{what} ({a.path.name})"
            print(f"{label:<46}{a.zipped / MB:>11.1f}{a.unzipped / MB:>13.1f}")
        total = artifacts.code.unzipped + artifacts.layer.unzipped
        print(f"function + layer unzipped: {total / MB:.1f} MB of Lambda's "
              f"{lp.UNZIPPED_LIMIT / MB:.0f} MB ({100 * total / lp.UNZIPPED_LIMIT:.0f} %); "
              f"largest direct upload {max(artifacts.code.zipped, artifacts.layer.zipped) / MB:.1f}"
              f" MB of {lp.ZIPPED_DIRECT_LIMIT / MB:.0f} MB")
        print("layer's largest packages (unzipped MB): " + ", ".join(
            f"{name} {size / MB:.1f}" for name, size in largest_packages(artifacts.layer.path)))

        root = extract(artifacts, Path(tmp) / "root")
        topo = default_topology()
        missing = set(missing_handlers(topo))
        print(f"\ncold import in a clean interpreter, {args.reps} fresh interpreters each "
              f"(seconds; import of the handler module only; wall, and the interpreter's CPU "
              f"time, which neighbours on a shared machine do not inflate)")
        print(f"{'function':<26}{'wall p50':>9}{'min':>7}{'max':>7}{'cpu p50':>9}  "
              f"without the layer")
        all_times: list[float] = []
        all_cpu: list[float] = []
        for fn in topo.lambdas:
            if fn.name in missing:
                continue
            times, cpu = [], []
            for _ in range(args.reps):
                result = import_handler(root, fn.handler)
                if not result.ok:
                    raise SystemExit(f"{fn.name}: {result.error}\n{result.detail}")
                assert result.seconds is not None and result.cpu_seconds is not None
                times.append(result.seconds)
                cpu.append(result.cpu_seconds)
            bare = import_handler(root, fn.handler, with_layer=False)
            all_times += times
            all_cpu += cpu
            print(f"{fn.name:<26}{statistics.median(times):>9.2f}{min(times):>7.2f}"
                  f"{max(times):>7.2f}{statistics.median(cpu):>9.2f}  "
                  f"{'imports' if bare.ok else bare.error}")
        print(f"all handlers: wall p50 {pct(all_times, 0.5):.2f} s, p90 {pct(all_times, 0.9):.2f}"
              f" s; cpu p50 {pct(all_cpu, 0.5):.2f} s, p90 {pct(all_cpu, 0.9):.2f} s; "
              f"not in the code yet (not deployed): {', '.join(sorted(missing))}")
        print(f"machine load (1 min) at the end: {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
