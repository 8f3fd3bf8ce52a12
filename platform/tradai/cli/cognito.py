"""Cognito sign-in for the CLI: USER_PASSWORD_AUTH against an app client, and refresh."""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tradai.cli.credentials import Credentials


class LoginFailed(Exception):
    pass


def _idp(region: str, endpoint_url: str | None) -> Any:
    # InitiateAuth needs no AWS credentials; the emulator wants some, any will do.
    kwargs: dict[str, Any] = {}
    if endpoint_url:
        kwargs = {"endpoint_url": endpoint_url, "aws_access_key_id": "testing",
                  "aws_secret_access_key": "testing"}
    return boto3.client("cognito-idp", region_name=region,
                        config=Config(retries={"max_attempts": 2}), **kwargs)


def _apply(creds: Credentials, result: dict[str, Any]) -> Credentials:
    creds.access_token = result["AccessToken"]
    creds.id_token = result.get("IdToken")
    creds.refresh_token = result.get("RefreshToken") or creds.refresh_token
    creds.expires_at = time.time() + int(result.get("ExpiresIn", 3600))
    return creds


def password_login(creds: Credentials, username: str, password: str) -> Credentials:
    try:
        resp = _idp(creds.region or "eu-central-1", creds.endpoint_url).initiate_auth(
            ClientId=creds.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password})
    except ClientError as exc:
        raise LoginFailed(exc.response["Error"].get("Message") or str(exc)) from None
    except BotoCoreError as exc:
        raise LoginFailed(str(exc)) from None
    if "AuthenticationResult" not in resp:
        raise LoginFailed(f"Cognito asks for a challenge this CLI does not handle: "
                          f"{resp.get('ChallengeName')}")
    return _apply(creds, resp["AuthenticationResult"])


def refresh(creds: Credentials) -> Credentials:
    try:
        resp = _idp(creds.region or "eu-central-1", creds.endpoint_url).initiate_auth(
            ClientId=creds.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": creds.refresh_token or ""})
    except (ClientError, BotoCoreError) as exc:
        raise LoginFailed(f"session expired and could not be refreshed ({exc}); "
                          f"run `tradai login`") from None
    return _apply(creds, resp["AuthenticationResult"])
