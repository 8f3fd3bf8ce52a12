"""Auto Scaling as AWS behaves and moto lacks: replacement on the simulated clock after an
instance is lost, and launch lifecycle hooks (Pending:Wait, complete, heartbeat, timeout)."""
