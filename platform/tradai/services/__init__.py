"""The long-running ECS services: backend API, data collection, strategy service, MLflow."""
