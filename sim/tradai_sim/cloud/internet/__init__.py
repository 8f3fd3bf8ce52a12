""""The internet" of the local cloud: the exchange simulator as its own process."""
