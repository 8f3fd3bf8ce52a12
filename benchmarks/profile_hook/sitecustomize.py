"""A sampling profiler for every Python process of a local stack (no py-spy here, and cProfile
sees one thread only): put this folder on ``PYTHONPATH`` and set ``BENCH_PROFILE_DIR`` (ECS
containers inherit only ``PYTHONPATH``, so ``bench_gateway.py --profile`` puts a hook of its
own first that sets the variable and runs this one); each process then samples its threads'
stacks every few milliseconds while ``BENCH_PROFILE_DIR/on`` exists and writes
``<dir>/<label>-<pid>.json`` (argv, function -> CPU ms as the running leaf and anywhere on the
stack; the label is the flag file's text) when the flag file goes away, then waits for the
next.

Each sample is weighted by the CPU time its thread used since the previous sample (the
thread's own CPU clock), so a thread blocked in a wait counts nothing; the figures are CPU
milliseconds, their attribution to the stack seen at the sample is approximate.
Used by ``bench_gateway.py --profile DIR``; never imported by the platform.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time

_DIR = os.environ.get("BENCH_PROFILE_DIR")


def _where(code: object) -> str:
    c = code  # a code object
    return f"{os.path.basename(c.co_filename)}:{c.co_name}"  # type: ignore[attr-defined]


def _sample_loop(out_dir: str) -> None:
    flag = os.path.join(out_dir, "on")
    while True:
        while not os.path.exists(flag):  # wait for a load to start
            time.sleep(0.05)
        try:
            with open(flag) as fh:
                label = fh.read().strip() or "load"
        except OSError:
            continue
        _sample(out_dir, flag, label)


def _sample(out_dir: str, flag: str, label: str) -> None:
    leaf: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    me = threading.get_ident()
    last: dict[int, int] = {}
    samples = 0.0
    while os.path.exists(flag):
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            try:
                cpu = time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
            except OSError:  # the thread just ended
                continue
            used = (cpu - last[ident]) / 1e6 if ident in last else 0.0
            last[ident] = cpu
            if used <= 0:
                continue
            samples += used
            leaf[_where(frame.f_code)] += used
            seen = set()
            f = frame
            while f is not None:
                w = _where(f.f_code)
                if w not in seen:
                    seen.add(w)
                    total[w] += used
                f = f.f_back
        time.sleep(0.003)
    with open(os.path.join(out_dir, f"{label}-{os.getpid()}.json"), "w") as fh:
        json.dump({"argv": sys.argv, "cpu_ms": samples, "leaf": leaf.most_common(60),
                   "total": total.most_common(120)}, fh)


if _DIR:
    threading.Thread(target=_sample_loop, args=(_DIR,), daemon=True, name="bench-profile").start()
