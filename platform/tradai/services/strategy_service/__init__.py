"""The strategy service (ECS, :8003): validates strategy configs, prepares runnable configs
(base + strategy version config from S3 + overrides) and registers strategy versions."""
