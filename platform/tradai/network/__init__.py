"""Network operations the platform performs at run time (NAT route repair)."""
