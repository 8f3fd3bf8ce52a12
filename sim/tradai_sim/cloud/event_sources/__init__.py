"""Event-source mappings: the pollers AWS Lambda runs between a queue and a function."""
