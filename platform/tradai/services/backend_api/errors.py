"""Domain errors as HTTP answers: the field and the reason for a 422 (in FastAPI's own
validation-error shape, so clients parse one format), the reason for a 503."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from tradai.backtests.errors import DependencyUnavailable, InvalidSubmission
from tradai.backtests.store import InvalidCursor
from tradai.trading.errors import InvalidSession, SessionRefused

log = logging.getLogger("tradai.backend_api")
RETRY_AFTER_SECONDS = 30  # a dependency coming back (MLflow starting, a task replaced)


def install(app: FastAPI) -> None:
    @app.exception_handler(InvalidSubmission)
    async def invalid(_: Request, exc: InvalidSubmission) -> JSONResponse:
        return _unprocessable(exc.location, exc.field, exc.reason)

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        return _unprocessable("query", "cursor", "not a cursor this listing gave out")

    @app.exception_handler(SessionRefused)
    async def refused(_: Request, exc: SessionRefused) -> JSONResponse:
        if isinstance(exc, InvalidSession):
            return _unprocessable("body", exc.field or "body", exc.reason)
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.exception_handler(DependencyUnavailable)
    async def dependency(_: Request, exc: DependencyUnavailable) -> JSONResponse:
        # the user gets the short reason; the cause (internal URLs, exceptions) is logged
        if exc.cause:
            log.warning("answering 503 (%s): %s", exc.reason, exc.cause)
        return JSONResponse({"detail": exc.reason}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _unprocessable(location: str, field: str, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
        "detail": [{"loc": [location, field], "msg": reason, "type": "value_error"}]})
