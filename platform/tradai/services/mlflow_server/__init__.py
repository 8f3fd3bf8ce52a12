"""The MLflow service as one ECS task (``python -m ...``): MLflow served in the task's own process
(serve.py), or ``mlflow server`` supervised when it runs several workers."""
