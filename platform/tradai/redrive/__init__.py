"""Dead-letter queue replay for operators: which DLQs a deployment has, what waits in them,
and SQS message move tasks (StartMessageMoveTask) that return their messages to their source
queues. Plain SQS and CloudWatch calls: the same code against the local cloud and AWS."""
