"""TradAI platform code: services, Lambda handlers, workflows and the topology spec."""
