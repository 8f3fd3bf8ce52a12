"""The SQS index (sim/tradai_sim/cloud/sqs_index): calls stay flat with the queue's depth and
answer what moto answers.

moto runs in-process (mock_aws) with the local cloud's SQS patches applied by monkeypatch, so
they are undone after each test. "Touched" is counted with a spy on ``Message.visible``, the
property every scan of moto's reads per message (and ``had_receipt_handle``, which its receipt
searches call): it does not rely on the index's own counter.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

DEPTH = 10_000
GROUPS = 100
ACCOUNT, REGION = "123456789012", "eu-central-1"


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws
    from moto.sqs.models import sqs_backends

    from tradai_sim.cloud.moto_patches import PATCHES

    for patch in PATCHES:  # every SQS patch (sqs_index, sqs_fifo, alarms, sqs_redrive), in order
        if patch.target.startswith("moto.sqs."):
            owner, attr, original = patch.resolve()
            new = patch.make(original) if patch.wrap else patch.make()
            new.__tradai_original__ = original
            monkeypatch.setattr(owner, attr, new)
    with mock_aws():
        yield sqs_backends[ACCOUNT][REGION]


@pytest.fixture
def visible_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of ``Message.visible`` reads and receipt-handle checks: one per message a
    call looks at."""
    from moto.sqs.models import Message

    original = Message.visible
    count = [0]

    def visible(self: Any) -> bool:
        count[0] += 1
        return bool(original.fget(self))  # type: ignore[misc]

    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        count[0] += 1
        return receipt_handle in self.all_receipt_handles

    monkeypatch.setattr(Message, "visible", property(visible))
    monkeypatch.setattr(Message, "had_receipt_handle", had_receipt_handle)
    return count


def make_queue(backend: Any, name: str, fifo: bool, **attrs: Any) -> Any:
    if fifo:
        attrs["FifoQueue"] = "true"
    return backend.create_queue(name + (".fifo" if fifo else ""), **attrs)


def fill(backend: Any, queue: Any, depth: int = DEPTH, groups: int = GROUPS) -> None:
    for n in range(depth):
        group = f"g{n % groups}"
        backend.send_message(queue.name, f"{group}:{n}", group_id=group if queue.fifo_queue
                             else None, deduplication_id=f"d{n}" if queue.fifo_queue else None)


def receive(backend: Any, queue: Any, count: int = 1, visibility: int = 30,
            wait: int = 0) -> list[Any]:
    return list(backend.receive_message(queue.name, count, wait, visibility, []))


def counts(queue: Any) -> tuple[int, int, int]:
    return (queue.approximate_number_of_messages, queue.approximate_number_of_messages_delayed,
            queue.approximate_number_of_messages_not_visible)


def moto_counts(queue: Any) -> tuple[int, int, int]:
    """The same three counts by moto's own scans (over the index's iteration)."""
    from moto.sqs.models import Queue

    from tradai_sim.cloud.moto_patches import unpatched

    return tuple(unpatched(getattr(Queue, name)).fget(queue) for name in (  # type: ignore[return-value]
        "approximate_number_of_messages", "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible"))


# -- flat: the calls look at a bounded number of messages at depth 10,000 ----------------------

def one_of_each_call(backend: Any, queue: Any, reads: list[int]) -> dict[str, int]:
    touched = {}

    def measure(name: str, call: Any) -> Any:
        before = reads[0]
        out = call()
        touched[name] = reads[0] - before
        return out

    fifo = queue.fifo_queue
    measure("send", lambda: backend.send_message(
        queue.name, "one more", group_id="g0" if fifo else None,
        deduplication_id="one-more" if fifo else None))
    got = measure("receive", lambda: receive(backend, queue))
    measure("change-visibility", lambda: backend.change_message_visibility(
        queue.name, got[0].receipt_handle, 60))
    measure("delete", lambda: backend.delete_message(queue.name, got[0].receipt_handle))
    measure("attributes", lambda: backend.get_queue_attributes(queue.name, ["All"]))
    return touched


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_each_call_looks_at_a_bounded_number_of_messages_at_depth_10000(
        backend: Any, visible_reads: list[int], fifo: bool) -> None:
    queue = make_queue(backend, "deep", fifo)
    fill(backend, queue)
    touched = one_of_each_call(backend, queue, visible_reads)
    assert all(n <= 20 for n in touched.values()), touched


def test_without_the_index_the_same_spy_sees_moto_scan_the_queue(
        backend: Any, visible_reads: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The spy can see a scan: with the index off, moto's calls read every message."""
    from tradai_sim.cloud.sqs_index import moto_hooks

    queue = make_queue(backend, "deep", True)
    fill(backend, queue, depth=2_000)  # filled with the index: unindexed sends are quadratic
    monkeypatch.setattr(moto_hooks, "ENABLED", False)
    touched = one_of_each_call(backend, queue, visible_reads)
    assert touched["receive"] >= 2_000 and touched["delete"] >= 2_000, touched
    assert touched["send"] >= 2_000 and touched["attributes"] >= 2_000, touched


def test_a_receive_does_not_walk_the_groups_in_flight(backend: Any,
                                                      visible_reads: list[int]) -> None:
    """99 of 100 groups in flight: the next receive goes to the last group directly (moto
    walked past the ~9,900 messages of the blocked groups)."""
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    firsts = [receive(backend, queue)[0] for _ in range(GROUPS - 1)]
    assert {m.group_id for m in firsts} == {f"g{n}" for n in range(GROUPS - 1)}
    before = visible_reads[0]
    last = receive(backend, queue)
    assert [m.body for m in last] == [f"g{GROUPS - 1}:{GROUPS - 1}"]
    assert visible_reads[0] - before <= 10
    assert receive(backend, queue) == []  # every group in flight now


# -- the same answers at depth ---------------------------------------------------------------

def test_fifo_order_per_group_and_every_message_once_when_draining_10000(backend: Any) -> None:
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    seen: dict[str, list[int]] = {}
    while True:
        got = receive(backend, queue, count=10)
        if not got:
            break
        for m in got:
            group, n = m.body.split(":")
            seen.setdefault(group, []).append(int(n))
            backend.delete_message(queue.name, m.receipt_handle)
    assert sum(len(v) for v in seen.values()) == DEPTH
    assert all(v == sorted(v) and len(v) == DEPTH // GROUPS for v in seen.values())
    assert counts(queue) == (0, 0, 0)


def test_a_group_in_flight_is_blocked_until_its_message_is_deleted(backend: Any) -> None:
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    first = receive(backend, queue)[0]
    assert first.body == "g0:0"
    others = [m for _ in range(50) for m in receive(backend, queue, count=10)]
    assert others and all(m.group_id != "g0" for m in others)
    for m in others:
        backend.delete_message(queue.name, m.receipt_handle)
    backend.delete_message(queue.name, first.receipt_handle)
    assert [m.body for m in receive(backend, queue)] == ["g0:100"]  # g0's second message


def test_a_batch_returns_several_messages_of_a_group_in_send_order(backend: Any) -> None:
    queue = make_queue(backend, "few", True)
    fill(backend, queue, depth=30, groups=3)
    got = receive(backend, queue, count=10)
    assert [m.body for m in got] == [f"g{n % 3}:{n}" for n in range(10)]  # as moto: send order
    assert receive(backend, queue) == []


def test_deduplication_holds_at_depth_after_receive_and_delete(backend: Any) -> None:
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    first = backend.send_message(queue.name, "dup", group_id="g0", deduplication_id="same")
    again = backend.send_message(queue.name, "dup again", group_id="g1",
                                 deduplication_id="same")
    assert again.id == first.id and len(queue._messages) == DEPTH + 1
    # the dedup id outlives the message (sqs_fifo); the index forgets the message itself
    for m in list(queue._messages):
        if m.deduplication_id == "same":
            queue._messages.remove(m)
    backend.send_message(queue.name, "dup later", group_id="g2", deduplication_id="same")
    assert len(queue._messages) == DEPTH


def test_visibility_expiry_returns_the_message_to_a_long_poll(backend: Any) -> None:
    """Every group in flight, one with a 1 s timeout: a long poll wakes when it ends, with
    that group's first message (not its second, as moto's receive could)."""
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    held = [m for _ in range(GROUPS // 10) for m in receive(backend, queue, count=1,
                                                              visibility=60)]
    held += [m for _ in range(GROUPS - len(held)) for m in receive(backend, queue)]
    assert receive(backend, queue) == []
    assert counts(queue) == (DEPTH - GROUPS, 0, GROUPS) == moto_counts(queue)
    for m in held[:2]:  # g0:0 and g1:1
        backend.change_message_visibility(queue.name, m.receipt_handle, 1)
    started = time.monotonic()
    back = receive(backend, queue, count=10, wait=5)
    waited = time.monotonic() - started
    # Per group, from its first message on and in order; across groups SQS promises no order,
    # and the two timeouts end a moment apart, so a loaded machine may wake with one group only
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html).
    groups: dict[int, list[str]] = {}
    for m in back:
        groups.setdefault(int(m.body.split(":")[1]) % GROUPS, []).append(m.body)
    assert back and set(groups) <= {0, 1}, groups
    for g, bodies in groups.items():
        assert bodies == [f"g{g}:{n}" for n in range(g, DEPTH, GROUPS)][:len(bodies)]
    assert 0.9 <= waited < 4, waited
    assert back[0].approximate_receive_count == 2


def test_change_visibility_to_zero_frees_the_group_at_once(backend: Any) -> None:
    queue = make_queue(backend, "deep", True)
    fill(backend, queue)
    held = [receive(backend, queue)[0] for _ in range(GROUPS)]
    assert receive(backend, queue) == []
    backend.change_message_visibility(queue.name, held[42].receipt_handle, 0)
    assert [m.body for m in receive(backend, queue)] == ["g42:42"]


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_a_message_goes_to_the_dlq_after_max_receive_count_at_depth(backend: Any,
                                                                     fifo: bool) -> None:
    dlq = make_queue(backend, "deep-dlq", fifo)
    queue = make_queue(backend, "deep", fifo, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 2}))
    fill(backend, queue)
    for _ in range(2):
        got = receive(backend, queue)
        assert got[0].body == "g0:0"
        backend.change_message_visibility(queue.name, got[0].receipt_handle, 0)
    after = receive(backend, queue)
    assert after[0].body == "g1:1"  # g0:0 moved when met, not delivered; then send order
    assert [m.body for m in dlq._messages] == ["g0:0"]
    assert len(queue._messages) == DEPTH - 1
    assert getattr(dlq._messages[0], "tradai_dlq_source_arn", None) == queue.queue_arn


def test_delayed_messages_wait_and_are_counted(backend: Any) -> None:
    queue = make_queue(backend, "deep", False)
    fill(backend, queue, depth=1_000)
    # 15 s: receiving the thousand took over 1 s on a loaded machine, so a shorter delay could
    # end before the counts below are read
    backend.send_message(queue.name, "later", delay_seconds=15)
    assert counts(queue) == (1_000, 1, 0) == moto_counts(queue)
    got = [m for _ in range(100) for m in receive(backend, queue, count=10)]
    assert len(got) == 1_000 and "later" not in {m.body for m in got}
    assert counts(queue) == (0, 1, 1_000) == moto_counts(queue)
    assert [m.body for m in receive(backend, queue, wait=20)] == ["later"]


def test_a_message_past_retention_is_deleted_not_delivered(backend: Any) -> None:
    queue = make_queue(backend, "old", False, MessageRetentionPeriod=60)
    backend.send_message(queue.name, "expired")
    backend.send_message(queue.name, "fresh")
    next(m for m in queue._messages if m.body == "expired").sent_timestamp -= 61_000
    assert [m.body for m in receive(backend, queue, count=10)] == ["fresh"]
    assert [m.body for m in queue._messages] == ["fresh"]


def test_purge_empties_the_index(backend: Any) -> None:
    queue = make_queue(backend, "deep", True)
    fill(backend, queue, depth=500)
    held = receive(backend, queue)
    backend.purge_queue(queue.name)
    assert receive(backend, queue) == [] and counts(queue) == (0, 0, 0)
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    with pytest.raises(ReceiptHandleIsInvalid):
        backend.delete_message(queue.name, held[0].receipt_handle)
    for n in range(3):  # new deduplication ids: the purged ones are still remembered
        backend.send_message(queue.name, f"g{n}:{n}", group_id=f"g{n}",
                             deduplication_id=f"after-purge-{n}")
    assert [m.body for m in receive(backend, queue, count=10)] == ["g0:0", "g1:1", "g2:2"]


# -- differential: the same random calls, with and without the index -------------------------

def run_script(backend: Any, name: str, fifo: bool, seed: int,
               check: Callable[[Any], None] | None = None) -> list[Any]:
    """A random mix of calls (no time passes: visibility timeouts of 0 or 60 s) that SQS
    accepts: delete and change-visibility only on messages in flight (SQS answers
    MessageNotInflight otherwise). FIFO receives use 60 s: with 0, moto's receive could deliver
    a group's second message before its first, and moto lets a message given back be hidden
    again without blocking its group; the index keeps the order in both cases."""
    rng = random.Random(seed)
    dlq = make_queue(backend, name + "-dlq", fifo)
    queue = make_queue(backend, name, fifo, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 3}))
    held: dict[str, str] = {}  # body -> latest receipt handle
    log: list[Any] = []
    for step in range(800):
        op = rng.random()
        if op < 0.45:
            group = f"g{rng.randrange(6)}"
            backend.send_message(queue.name, f"{group}:{step}", group_id=group if fifo else None,
                                 deduplication_id=f"d{step}" if fifo else None)
        elif op < 0.75:
            visibility = 60 if fifo else rng.choice((0, 60))
            got = receive(backend, queue, count=rng.randrange(1, 11), visibility=visibility)
            if visibility:  # in flight: the only messages SQS lets one delete or change
                held.update((m.body, m.receipt_handle) for m in got)
            log.append(("receive", [m.body for m in got]))
        elif op < 0.9 and held:
            body = rng.choice(sorted(held))
            try:
                backend.delete_message(queue.name, held.pop(body))
                log.append(("delete", body, "ok"))
            except Exception as exc:  # moved to the DLQ meanwhile: moto's error, both ways
                log.append(("delete", body, type(exc).__name__))
        elif held:
            body = rng.choice(sorted(held))
            visibility = rng.choice((0, 60))
            handle = held.pop(body) if visibility == 0 else held[body]  # 0: given back
            try:
                backend.change_message_visibility(queue.name, handle, visibility)
                log.append(("visibility", body, "ok"))
            except Exception as exc:  # moved to the DLQ meanwhile: moto's error, both ways
                log.append(("visibility", body, type(exc).__name__))
        log.append(("counts", counts(queue), counts(dlq)))
        if check is not None:
            check(queue)
            check(dlq)
    log.append(("left", [m.body for m in queue._messages], [m.body for m in dlq._messages]))
    return log


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_random_calls_answer_the_same_with_and_without_the_index(
        backend: Any, monkeypatch: pytest.MonkeyPatch, fifo: bool) -> None:
    from tradai_sim.cloud.sqs_index import moto_hooks

    with_index = run_script(backend, "indexed", fifo, seed=17)
    monkeypatch.setattr(moto_hooks, "ENABLED", False)
    without = run_script(backend, "plain", fifo, seed=17)
    for step, (a, b) in enumerate(zip(with_index, without, strict=False)):
        assert a == b, f"entry {step}: index {a} != moto {b}; before: {with_index[step - 3:step]}"
    assert len(with_index) == len(without)


# -- the alarms' SQS metrics read the index, not every message --------------------------------

def metrics_both_ways(queue: Any) -> tuple[list[Any], list[Any]]:
    from tradai.clock import Clock
    from tradai_sim.cloud.alarms.sqs_metrics import indexed_metrics, message_views, queue_metrics

    clock, at = Clock(), time.time() + 60
    scanned = queue_metrics(queue.name, bool(queue.fifo_queue), message_views(queue, clock), at)
    return indexed_metrics(queue, queue._messages, clock, at), scanned


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_queue_metrics_from_the_index_equal_the_scan_of_every_message(
        backend: Any, fifo: bool) -> None:
    def check(queue: Any) -> None:
        indexed, scanned = metrics_both_ways(queue)
        assert indexed == scanned

    run_script(backend, "metrics", fifo, seed=5, check=check)


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_a_metrics_sample_reads_a_bounded_number_of_messages_at_depth_10000(
        backend: Any, visible_reads: list[int], fifo: bool) -> None:
    from tradai.clock import Clock
    from tradai_sim.cloud.alarms.sqs_metrics import sample

    queue = make_queue(backend, "sampled", fifo)
    if not fifo:  # a delayed message is neither visible nor the oldest
        backend.send_message(queue.name, "late", delay_seconds=600)
    fill(backend, queue)
    receive(backend, queue, count=10)
    visible_reads[0] = 0
    data = {d.name: d.value for d in sample(backend, Clock(), time.time())}
    assert visible_reads[0] <= 20, visible_reads[0]
    assert data["ApproximateNumberOfMessagesVisible"] == DEPTH - 10
    assert data["ApproximateNumberOfMessagesNotVisible"] == 10
    assert 0 <= data["ApproximateAgeOfOldestMessage"] < 600
