"""Backtest submission: validate a request, record its ticket, put it on the FIFO queue.

Why submission goes through the backend rather than API Gateway -> SQS directly (pattern 2 of
the architecture document): a direct SQS integration can check a JSON schema at most, so an
unknown strategy, a missing alias or an inverted timerange would be accepted and only fail
minutes later inside the workflow; and nothing would record the ticket before the message
exists, so ``GET /api/v1/backtests/{id}`` on a fresh ticket could answer 404 until the consumer
ran. Routing through the backend lets us (1) validate schema and semantics against the strategy
registry and answer 422 with the field at fault, (2) write the ticket as QUEUED with a
conditional put *before* enqueuing, so a ticket is readable the moment it is returned, and
(3) make duplicates (same ``Idempotency-Key``, or the same request within the 5-minute dedup
window) return the same ticket with one queue message. The cost is one extra hop (ALB +
backend) on a path whose target is < 100 ms, which the benchmark measures.
"""
