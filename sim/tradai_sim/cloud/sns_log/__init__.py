"""Every message published to an SNS topic, kept for the alerts route and CLI."""
