"""Lambda handlers: thin entry points that call the domain modules of ``tradai``."""
