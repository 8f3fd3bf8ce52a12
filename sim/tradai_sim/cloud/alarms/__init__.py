"""CloudWatch alarms that evaluate on the simulated clock, with the metrics AWS would publish."""
