"""SQS FIFO fidelity: the 5-minute deduplication interval on the simulated clock."""
