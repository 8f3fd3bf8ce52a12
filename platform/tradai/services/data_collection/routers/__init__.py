"""Routes: ``/health`` at the root, the data API under ``/api/v1/data`` (the prefix the
backend forwards unchanged)."""
