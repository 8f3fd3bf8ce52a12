"""AWS Fault Injection Service executed by the local cloud: experiments from FIS templates run
their actions (and ``tradai:`` harness actions) for real, on the simulated clock, with AWS's
experiment and action states, target resolution, stop conditions and undo on stop."""
