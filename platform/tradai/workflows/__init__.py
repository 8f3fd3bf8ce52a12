"""Step Functions workflow definitions (ASL) shared by the local cloud and the Pulumi program."""
