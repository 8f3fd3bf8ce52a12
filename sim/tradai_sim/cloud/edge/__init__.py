"""The cloud part that runs the edge processes (API gateway and ALB stand-ins)."""
