"""The MLflow service: ``mlflow server`` supervised as one ECS task (``python -m ...``)."""
