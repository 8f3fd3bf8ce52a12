"""Live and dry-run trading: sessions (one ECS service each), heartbeats and their monitors."""
