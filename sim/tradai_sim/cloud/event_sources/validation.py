"""CreateEventSourceMapping / UpdateEventSourceMapping checks for SQS sources, as Lambda refuses.

https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html: BatchSize at most
10 on a FIFO queue, 10,000 on a standard queue, and above 10 only with
MaximumBatchingWindowInSeconds of at least 1; no batching window on a FIFO queue.
"""

from __future__ import annotations

WINDOW_REQUIRED = ("Maximum batch window in seconds must be greater than 0 if maximum batch "
                   "size is greater than 10")
FIFO_WINDOW = "Batching window is not supported for FIFO queues"
STANDARD_MAX = 10_000
FIFO_MAX = 10


def sqs_mapping_problem(queue_arn: str, batch_size: int | None, window: int | None) -> str | None:
    """The InvalidParameterValueException message for this SQS mapping, or None if valid."""
    if ":sqs:" not in queue_arn:
        return None
    batch = 10 if batch_size is None else int(batch_size)
    window = int(window or 0)
    if queue_arn.endswith(".fifo"):
        if window > 0:
            return FIFO_WINDOW
        if not 1 <= batch <= FIFO_MAX:
            return f"Maximum batch size must be between 1 and {FIFO_MAX} inclusive"
        return None
    if not 1 <= batch <= STANDARD_MAX:
        return f"Maximum batch size must be between 1 and {STANDARD_MAX} inclusive"
    if batch > 10 and window < 1:
        return WINDOW_REQUIRED
    return None
