"""Lambda execution: the real handler functions run in warm worker processes, as in AWS."""
