"""``/api/v1/data/*``: forwarded to the data collection service (Cloud Map name locally given
by ``TRADAI_DATA_COLLECTION_URL``); 503 with the reason while it cannot be reached."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from tradai.services.backend_api.dependencies import OwnerDep, SettingsDep, unavailable

router = APIRouter(prefix="/api/v1/data", tags=["data"])
PASSED_STATUSES = {200, 400, 404, 422}


@router.get("/freshness", summary="How current the market data is, per pair and timeframe",
            response_model=dict[str, Any],
            responses={503: {"description": "Data collection service unavailable"}})
async def freshness(request: Request, _: OwnerDep, settings: SettingsDep) -> JSONResponse:
    return await _forward(request, settings.data_collection_url, "freshness",
                          settings.upstream_timeout)


@router.get("/{path:path}", summary="Other data collection queries", include_in_schema=False)
async def other(path: str, request: Request, _: OwnerDep, settings: SettingsDep) -> JSONResponse:
    return await _forward(request, settings.data_collection_url, path, settings.upstream_timeout)


async def _forward(request: Request, base: str | None, path: str,
                   timeout: float) -> JSONResponse:
    if not base:
        raise unavailable("data collection service is not configured "
                          "(TRADAI_DATA_COLLECTION_URL unset)")
    url = f"{base.rstrip('/')}/api/v1/data/{path}"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(url, params=list(request.query_params.multi_items()))
    except httpx.HTTPError as exc:
        raise unavailable("data collection service unreachable", exc) from exc
    if resp.status_code in PASSED_STATUSES:
        try:
            return JSONResponse(resp.json(), status_code=resp.status_code)
        except ValueError:
            pass
    reason = _reason(resp)
    if resp.status_code == 503 or resp.status_code >= 500:
        raise unavailable(f"data collection service unavailable: {reason}")
    raise HTTPException(502, f"data collection service answered {resp.status_code}: {reason}")


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)[:200]
    return str(body)[:200]
