"""Domain errors as HTTP answers: 404 for what does not exist, 422 naming the field, 503 for
a dependency that is down. A user can act on every reason; none of these is a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tradai.config.schema import FieldError, to_field_error
from tradai.config.service import ConfigInvalid
from tradai.registry.models import InvalidStrategyVersion, RegistryUnavailable, StrategyNotFound
from tradai.services.strategy_service.markets import MarketsUnavailable


def _fields(errors: list[FieldError]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [e.model_dump() for e in errors]})


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            # "body" is where, not what: the field is named from the body's root.
            err = {**err, "loc": loc[1:] if loc[:1] == ("body",) and len(loc) > 1 else loc}
            errors.append(to_field_error(err))
        return _fields(errors)

    @app.exception_handler(ConfigInvalid)
    async def config_invalid(request: Request, exc: ConfigInvalid) -> JSONResponse:
        return _fields(exc.errors)

    @app.exception_handler(InvalidStrategyVersion)
    async def bad_reference(request: Request, exc: InvalidStrategyVersion) -> JSONResponse:
        return _fields([FieldError(field=exc.field or "request", reason=str(exc))])

    @app.exception_handler(StrategyNotFound)
    async def not_found(request: Request, exc: StrategyNotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(RegistryUnavailable)
    async def registry_down(request: Request, exc: RegistryUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(MarketsUnavailable)
    async def exchange_down(request: Request, exc: MarketsUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})
