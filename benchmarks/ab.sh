#!/usr/bin/env bash
# One benchmark on an older commit and on the working tree, alternating, so that this
# machine's drift in speed (10-25% within minutes) falls on both alike.
#
#   benchmarks/ab.sh REV ROUNDS BENCHMARK [ARGS...]
#   benchmarks/ab.sh f1df503 3 bench_gateway.py
#
# REV is checked out in a temporary git worktree (its bytecode compiled) and run with this
# checkout's .venv, its own packages first on PYTHONPATH: the stack's processes inherit it,
# so every process of the old run runs the old code.
set -euo pipefail
rev=$1 rounds=$2 bench=$3
shift 3
here=$(cd "$(dirname "$0")/.." && pwd)
python=$here/.venv/bin/python
old=$(mktemp -d /tmp/ab-XXXXXX)
trap 'git -C "$here" worktree remove --force "$old" >/dev/null 2>&1 || rm -rf "$old"' EXIT
git -C "$here" worktree add -q --detach "$old" "$rev"
"$python" -m compileall -q -j 0 "$old/platform" "$old/sim" "$here/platform" "$here/sim"
# A benchmark newer than REV runs from this checkout, on REV's code all the same.
script=$old/benchmarks/$bench
[[ -f $script ]] || script=$here/benchmarks/$bench
for round in $(seq "$rounds"); do
  echo "== round $round: $rev"
  (cd "$old" && PYTHONPATH="$old/platform:$old/sim:$old" "$python" "$script" "$@")
  echo "== round $round: working tree"
  (cd "$here" && "$python" "benchmarks/$bench" "$@")
done
