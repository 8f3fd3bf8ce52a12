"""Mutations of the edge's traffic client (``sim/tradai_sim/edge/upstream.py``) and whether
``tests/unit/test_edge_upstream.py`` catches each: the file is changed in place, the tests
run, the file is restored (also on Ctrl-C). Exits 1 if a mutation that changes behaviour
survives.

    .venv/bin/python benchmarks/mutate_edge_client.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "sim/tradai_sim/edge/upstream.py"
TESTS = "tests/unit/test_edge_upstream.py"
REUSE = 'reusable = version == b"HTTP/1.1" and b"close" not in connection'

# (what it breaks, text, replacement, why it cannot be caught: None if it must be)
MUTATIONS: list[tuple[str, str, str, str | None]] = [
    ("reuse a connection the upstream closed", "and not self.reader.at_eof()", "", None),
    ("reuse a connection idle past the expiry",
     "and time.monotonic() - self.idle_since < expiry", "", None),
    ("keep idle connections beyond the limit", "if len(idle) >= self.max_idle:",
     "if False:", None),
    ("take an interim 1xx answer for the answer", "if not 100 <= status < 200:", "if True:",
     None),
    ("reuse whatever the answer says", REUSE, "reusable = True", None),
    ("reuse after an HTTP/1.0 answer", REUSE, 'reusable = b"close" not in connection', None),
    ("reuse after Connection: close", REUSE, 'reusable = version == b"HTTP/1.1"', None),
    ("read a cut chunked answer as a bad chunk size", "            if not line:",
     "            if False:", None),
    ("reuse after a body delimited by the close",
     "return None, False, False  # the body ends when the connection does",
     "return None, False, reusable",
     "equivalent: such a body ends only when the connection does, so the at-EOF check "
     "refuses the reuse anyway"),
]


def caught(text: str, old: str, new: str) -> bool:
    if text.count(old) != 1:
        raise SystemExit(f"{old!r} is not in {TARGET.name} exactly once: update the list")
    TARGET.write_text(text.replace(old, new))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          TESTS], cwd=ROOT, capture_output=True, text=True)
    return run.returncode != 0


def main() -> None:
    original = TARGET.read_text()
    survivors = []
    try:
        for what, old, new, equivalent in MUTATIONS:
            result = caught(original, old, new)
            verdict = "caught" if result else ("survives (" + equivalent + ")" if equivalent
                                               else "SURVIVES")
            print(f"{what:48s} {verdict}", flush=True)
            if not result and not equivalent:
                survivors.append(what)
    finally:
        TARGET.write_text(original)
    print(f"{len(MUTATIONS)} mutations, {len(survivors)} surviving that change behaviour")
    sys.exit(1 if survivors else 0)


if __name__ == "__main__":
    main()
