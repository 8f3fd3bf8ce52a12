"""RDS locally: the spec's database instance as a real PostgreSQL server (pgserver's binaries),
placed in a database subnet, visible through the emulator's RDS API."""
