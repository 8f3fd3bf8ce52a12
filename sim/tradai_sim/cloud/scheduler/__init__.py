"""EventBridge schedules on the simulated clock: moto stores rules but never fires them."""
