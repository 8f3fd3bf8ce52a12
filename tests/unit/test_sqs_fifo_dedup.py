"""The FIFO deduplication interval: 5 minutes from the accepted send, deletion or not
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html)."""

from __future__ import annotations

from tradai_sim.cloud.sqs_fifo.dedup import DedupWindow, key_for


def test_a_duplicate_within_the_interval_names_the_first_send() -> None:
    window = DedupWindow()
    key = key_for("d", "g", "queue")
    assert window.admit(key, "m1", "1", now=1000.0) is None
    first = window.admit(key, "m2", "2", now=1299.0)
    assert first is not None and (first.message_id, first.sequence_number) == ("m1", "1")


def test_the_interval_ends_300_seconds_after_the_first_send_not_the_duplicate() -> None:
    window = DedupWindow()
    key = key_for("d", "g", "queue")
    window.admit(key, "m1", None, now=1000.0)
    assert window.admit(key, "m2", None, now=1200.0) is not None  # does not extend it
    assert window.admit(key, "m3", None, now=1300.0) is None
    assert window.remembered(now=1300.0) == 1


def test_the_scope_is_the_queue_unless_deduplication_is_per_message_group() -> None:
    assert key_for("d", "g1", "queue") == key_for("d", "g2", "queue")
    assert key_for("d", "g1", "messageGroup") != key_for("d", "g2", "messageGroup")
