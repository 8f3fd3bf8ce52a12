"""Tokens for the default dev user that ``up`` creates in the Cognito user pool."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tradai_sim.cloud.bootstrap.resources import DEV_USER_PASSWORD_FILE
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.stack.launcher import StackError
from tradai_sim.stack.state import StackRecord


def dev_user_token(rec: StackRecord, state_dir: Path) -> str:
    cloud = json.loads((state_dir / "cloud.json").read_text())
    cognito = cloud["resources"]["cognito"]
    creds_path = state_dir / DEV_USER_PASSWORD_FILE
    if not creds_path.exists():
        raise StackError(f"dev user credentials missing from {state_dir}; run "
                         f"`tradai-sim down` and `tradai-sim up` to recreate the user")
    creds = json.loads(creds_path.read_text())
    idp = boto3.client("cognito-idp", endpoint_url=rec.endpoint, region_name=cloud["region"],
                       aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    resp = idp.admin_initiate_auth(
        UserPoolId=cognito["user_pool_id"], ClientId=cognito["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": creds["username"], "PASSWORD": creds["password"]})
    return str(resp["AuthenticationResult"]["AccessToken"])
