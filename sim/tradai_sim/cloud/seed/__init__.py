"""Seeding the stack once MLflow is up: the example strategies get registered."""
