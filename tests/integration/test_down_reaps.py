"""``down`` leaves nothing running, even when the cloud process itself was killed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.integration.cloud import RunningCloud, deploy_lambda, free_port, wait_for
from tradai_sim.stack import launcher
from tradai_sim.stack.state import pid_alive


def test_down_reaps_workers_of_a_killed_cloud(tmp_path: Path) -> None:
    state = tmp_path / "state"
    rec = launcher.start(state, free_port(), time_scale=20.0)
    try:
        cloud = RunningCloud(rec.endpoint, state, None, 20.0)
        deploy_lambda(cloud, "t-reap", "def handler(e, c):\n    return 1\n")
        cloud.client("lambda").invoke(FunctionName="t-reap", Payload=b"{}")
        workers = wait_for(lambda: cloud.status()["parts"]["lambda"]["warm_environments"].get(
            "t-reap"))
        assert workers == 1  # scheduled functions may have environments of their own too
        children = [int(x) for x in (state / "children.pids").read_text().split()]
        # Every process the stack runs is recorded. (Not every recorded one still runs: the
        # seed's process exits once the examples are registered.)
        running_tasks = {t["pid"] for t in cloud.control("/ecs/tasks")["tasks"]
                         if t["last_status"] == "RUNNING"}
        assert running_tasks and running_tasks <= set(children)
        assert all(pid_alive(p) for p in running_tasks)

        os.kill(rec.pid, signal.SIGKILL)  # the cloud dies without cleaning up
        wait_for(lambda: not pid_alive(rec.pid), timeout=10)
        assert any(pid_alive(p) for p in running_tasks)  # orphans, for `down` to reap
    finally:
        launcher.stop(state)
    assert not any(pid_alive(p) for p in children)
