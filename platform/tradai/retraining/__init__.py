"""The Retraining workflow's domain (issue 12 items 3-6): runs in ``retraining-state``, the
scheduler's choice, the idempotent start, the check, the comparison's decision rule, promotion
and rollback. Imports only what a Lambda's layer holds (boto3, pydantic, MLflow's skinny
client): the training itself runs in the strategy container."""
