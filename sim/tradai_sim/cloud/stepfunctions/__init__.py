"""Step Functions: what moto's vendored ASL interpreter lacks for the optimised integrations."""
