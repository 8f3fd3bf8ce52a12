"""The mark an egress process puts on what it forwards, so "the internet" (the exchange
simulator) can tell a request that left the VPC the right way from one that bypassed it."""

from __future__ import annotations

EGRESS_HEADER = "X-Tradai-Egress"  # who forwarded it: "nat:i-0abc..." or "igw"
EGRESS_TOKEN_HEADER = "X-Tradai-Egress-Token"  # the stack's secret: not guessable by accident
EGRESS_TOKEN_ENV = "TRADAI_SIM_EGRESS_TOKEN"
