"""An in-process SQS emulator with the local cloud's redrive patches and a running move-task
service (for unit tests of the redrive wire format and of ``tradai dlq``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tradai.clock import Clock
from tradai_sim.cloud import emulator
from tradai_sim.cloud.moto_patches import PATCHES
from tradai_sim.cloud.sqs_redrive import moto_hooks
from tradai_sim.cloud.sqs_redrive.api import MoveTaskService
from tradai_sim.cloud.sqs_redrive.queues import MotoQueues
from tradai_sim.cloud.sqs_redrive.runner import Mover
from tradai_sim.cloud.sqs_redrive.tasks import MoveTasks

REDRIVE_PATCHES = {"moto.sqs.responses:SQSResponse.call_action": moto_hooks.call_action,
                   "moto.sqs.models:Queue.add_message": moto_hooks.queue_add_message,
                   "moto.sqs.responses:SQSResponse.receive_message": moto_hooks.receive_message}


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@contextlib.contextmanager
def redrive_emulator(clock: Clock) -> Iterator[str]:
    """The endpoint URL; only the redrive patches are applied (the others are not under
    test), taken from ``moto_patches.PATCHES`` so the record is what is tested."""
    patcher = pytest.MonkeyPatch()
    for target, hook in REDRIVE_PATCHES.items():
        [patch] = [p for p in PATCHES if p.target == target and p.make() is hook]
        owner, attr, original = patch.resolve()
        patcher.setattr(owner, attr, patch.make(original))
    tasks = MoveTasks()
    mover = Mover(tasks, MotoQueues(), clock)
    moto_hooks.install(MoveTaskService(MotoQueues(), clock, tasks, mover.launch, mover.wake))
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        mover.stop()
        moto_hooks.install(None)
        patcher.undo()
