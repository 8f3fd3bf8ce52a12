"""Creates every resource of the topology spec in the emulator, idempotently."""
