"""DynamoDB TTL expiry on the simulated clock: moto stores the setting but never deletes."""
