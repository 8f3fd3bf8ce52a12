"""The local cloud: the whole TradAI deployment on one machine, with fault injection."""
