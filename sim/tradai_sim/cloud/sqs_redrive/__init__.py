"""SQS dead-letter queue redrive (StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask), which moto lacks, and what a move into a dead-letter queue records:
the message's source queue and, in a FIFO DLQ, its message id as deduplication id."""
