"""Availability zones that can fail: a power loss (everything placed there dies, the AZ takes no
new placements) or a network partition (alive but cut off)."""
