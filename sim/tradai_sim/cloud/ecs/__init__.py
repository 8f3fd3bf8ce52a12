"""ECS runtime: every task is a real OS process; services keep their desired count alive."""
