"""The deployment's dead-letter queues, from the topology spec: which queue is whose DLQ, and
which queue an operator means by a logical name, a physical name, a URL or an ARN."""

from __future__ import annotations

from dataclasses import dataclass

from tradai.redrive.errors import RedriveError
from tradai.topology import Topology
from tradai.topology.naming import physical_name


@dataclass(frozen=True)
class DeadLetterQueue:
    logical: str  # backtest-dlq.fifo
    name: str  # tradai-<env>-backtest-dlq.fifo
    sources: tuple[str, ...]  # logical names of the queues whose redrive policy names it


@dataclass(frozen=True)
class QueueRef:
    """A queue as the operator named it: by name (URL looked up) or by URL."""

    name: str
    url: str | None = None
    account: str | None = None


class Deployment:
    def __init__(self, topology: Topology, env: str) -> None:
        self.topology = topology
        self.env = env

    def physical(self, logical: str) -> str:
        return physical_name(self.topology.project, self.env, logical)

    def dead_letter_queues(self) -> list[DeadLetterQueue]:
        sources: dict[str, list[str]] = {}
        for q in self.topology.queues:
            if q.dlq:
                sources.setdefault(q.dlq, []).append(q.name)
        return [DeadLetterQueue(name, self.physical(name), tuple(srcs))
                for name, srcs in sources.items()]

    def logical_of(self, name: str) -> str | None:
        """The spec's name for a physical queue name of this deployment, if it is one."""
        return next((q.name for q in self.topology.queues if self.physical(q.name) == name),
                    None)

    def resolve(self, queue: str) -> QueueRef:
        """``backtest-dlq.fifo``, ``tradai-dev-backtest-dlq.fifo``, its URL or its ARN."""
        queue = queue.strip()
        if queue.startswith("arn:"):
            parts = queue.split(":")
            if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
                raise RedriveError(f"{queue!r} is not an SQS queue ARN")
            return QueueRef(parts[5], account=parts[4])
        if queue.startswith(("http://", "https://")):
            name = queue.rstrip("/").rsplit("/", 1)[-1]
            return QueueRef(name, url=queue)
        if any(q.name == queue for q in self.topology.queues):
            return QueueRef(self.physical(queue))
        if self.logical_of(queue) is not None:
            return QueueRef(queue)
        known = ", ".join(d.logical for d in self.dead_letter_queues())
        raise RedriveError(f"unknown queue {queue!r}: not a queue of the {self.env} deployment "
                           f"(its dead-letter queues: {known}); give a name from the spec, a "
                           f"queue URL or an ARN")
