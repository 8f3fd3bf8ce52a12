"""``tradai``: the command line for users of the platform (local gateway or a deployment)."""
