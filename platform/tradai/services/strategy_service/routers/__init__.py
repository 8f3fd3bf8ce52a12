"""One router per resource: health, validation, configs, strategies."""
