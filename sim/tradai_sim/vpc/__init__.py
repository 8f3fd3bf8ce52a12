"""The VPC's data plane: the router every process of a subnet talks through, and the egress
processes (NAT instances, the internet gateway) that carry traffic to "the internet"."""
