"""The strategy registry: strategies are MLflow registered models, versions carry their tags."""
