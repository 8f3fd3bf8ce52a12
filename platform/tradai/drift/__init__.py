"""Infrastructure drift detection: compare the deployed stack with the Pulumi program."""
