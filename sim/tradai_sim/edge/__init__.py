"""The edge of the local stack: an API Gateway stand-in and an ALB stand-in, each its own
process (``python -m tradai_sim.edge.gateway`` / ``python -m tradai_sim.edge.alb``), started by
the cloud's edge part (``tradai_sim.cloud.edge.part``)."""
