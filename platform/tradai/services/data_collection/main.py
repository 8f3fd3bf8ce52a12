"""``python -m tradai.services.data_collection``: serve the API on ``$PORT`` (default 8002)."""

from __future__ import annotations

import logging

import uvicorn

from tradai.services.data_collection.app import create_app
from tradai.services.data_collection.settings import ServiceSettings


def main() -> int:
    settings = ServiceSettings()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(), host=settings.host, port=settings.port, log_level="warning",
                access_log=False)
    return 0
