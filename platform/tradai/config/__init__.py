"""Strategy configs: the Freqtrade config subset the platform relies on, and how a runnable
config is assembled (base + strategy version config + runtime overrides)."""
