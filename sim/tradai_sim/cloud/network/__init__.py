"""The VPC network of the local cloud: routes decided by EC2 state, NAT instances that are
processes, subnets and AZs that can be cut off (see docs/network-and-faults.md)."""
