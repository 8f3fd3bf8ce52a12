"""Where the deployed API sends writes to MLflow (``ANY /mlflow/{proxy+}`` other than reads): a
403 naming the API route to use. The gateway passes the original path in a header
(API Gateway parameter mapping, ``append:header.x-tradai-mlflow-path``); the local gateway
refuses the same requests itself with the same message (``tradai.authz.mlflow_write_refusal``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status

from tradai.authz import mlflow_write_refusal
from tradai.services.backend_api.dependencies import PrincipalDep

router = APIRouter(prefix="/api/v1/mlflow-writes", tags=["registry"])
ORIGINAL_PATH_HEADER = "X-Tradai-Mlflow-Path"


@router.api_route("", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def refuse(_: PrincipalDep, original: Annotated[str | None, Header(
        alias=ORIGINAL_PATH_HEADER, max_length=2048)] = None) -> None:
    path = (original or "").removeprefix("/mlflow")
    raise HTTPException(status.HTTP_403_FORBIDDEN, mlflow_write_refusal(path))
