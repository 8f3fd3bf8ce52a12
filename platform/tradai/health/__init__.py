"""Service health: ``health-check`` probes each ECS service's health endpoint through service
discovery, records the last known state per service and alerts on a failure and on recovery."""
