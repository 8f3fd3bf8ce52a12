"""Tokens for the dev users that ``up`` creates in the Cognito user pool (the default one and
one per role of the spec's ``edge.roles``)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tradai_sim.cloud.bootstrap.resources import DEV_USER_PASSWORD_FILE
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.stack.launcher import StackError
from tradai_sim.stack.state import StackRecord


def dev_user_token(rec: StackRecord, state_dir: Path, role: str | None = None) -> str:
    """An access token of the default dev user, or of the dev user of ``role``."""
    cloud = json.loads((state_dir / "cloud.json").read_text())
    cognito = cloud["resources"]["cognito"]
    creds_path = state_dir / DEV_USER_PASSWORD_FILE
    if not creds_path.exists():
        raise StackError(f"dev user credentials missing from {state_dir}; run "
                         f"`tradai-sim down` and `tradai-sim up` to recreate the user")
    creds = json.loads(creds_path.read_text())
    if role is not None:
        users = creds.get("users", {})
        if role not in users or role == "default":
            known = ", ".join(k for k in users if k != "default") or "none"
            raise StackError(f"no dev user for role {role!r} (roles: {known})")
        creds = users[role]
    idp = boto3.client("cognito-idp", endpoint_url=rec.endpoint, region_name=cloud["region"],
                       aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    resp = idp.admin_initiate_auth(
        UserPoolId=cognito["user_pool_id"], ClientId=cognito["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": creds["username"], "PASSWORD": creds["password"]})
    return str(resp["AuthenticationResult"]["AccessToken"])
