"""Failure drills: Chaos Toolkit playbooks run against the stack, with reports."""
