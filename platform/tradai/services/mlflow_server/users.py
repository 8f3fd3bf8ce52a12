"""MLflow's users other than the admin, from the ``mlflow-users`` secret, kept in step through
MLflow's auth REST API once the server answers.

On every start each user is created, or has its password set to the secret's (a rotated
password takes effect), and is made a plain user again if someone made it an admin: these
logins have MLflow's default permission (READ) and whatever an admin granted them, never more.
The admin's own login is never touched from here (it comes from ``mlflow-basic-auth``).
Nothing here logs a password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tradai.registry.credentials import BasicAuth

log = logging.getLogger("tradai.mlflow_server.users")

GET_USER = "/api/2.0/mlflow/users/get"
CREATE_USER = "/api/2.0/mlflow/users/create"
UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"
UPDATE_ADMIN = "/api/2.0/mlflow/users/update-admin"
HEALTH = "/health"
START_TIMEOUT_SECONDS = 600.0  # a first start migrates the store before /health answers
RETRY_SECONDS = 1.0


class UserSyncError(RuntimeError):
    pass


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    demoted: list[str] = field(default_factory=list)  # were admins, are plain users again
    skipped: list[str] = field(default_factory=list)  # the admin's own name


def sync_users(client: httpx.Client, admin: BasicAuth, users: Sequence[BasicAuth]) -> SyncReport:
    """Create or update ``users`` as the admin; ``client`` has the server as its base URL."""
    auth = (admin.username, admin.password)
    report = SyncReport()
    for user in users:
        if user.username == admin.username:  # demoting or re-keying the admin locks us out
            report.skipped.append(user.username)
            continue
        got = client.get(GET_USER, params={"username": user.username}, auth=auth)
        if got.status_code == 404:
            _check(client.post(CREATE_USER, auth=auth, json={
                "username": user.username, "password": user.password}), "create", user)
            report.created.append(user.username)
            continue
        _check(got, "get", user)
        _check(client.patch(UPDATE_PASSWORD, auth=auth, json={
            "username": user.username, "password": user.password}), "update-password", user)
        report.updated.append(user.username)
        if got.json().get("user", {}).get("is_admin"):
            _check(client.patch(UPDATE_ADMIN, auth=auth, json={
                "username": user.username, "is_admin": False}), "update-admin", user)
            report.demoted.append(user.username)
    return report


def _check(resp: httpx.Response, what: str, user: BasicAuth) -> None:
    if resp.status_code != 200:
        # MLflow's error bodies name the problem, never echo the password sent.
        raise UserSyncError(f"users/{what} {user.username!r}: HTTP {resp.status_code} "
                            f"{resp.text[:300]}")


def wait_until_up(client: httpx.Client, server_alive: Callable[[], bool],
                  timeout: float = START_TIMEOUT_SECONDS) -> bool:
    """True once ``/health`` answers 200; False if the server exited or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server_alive():
        try:
            if client.get(HEALTH).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(RETRY_SECONDS)  # polling a child process we cannot be notified by
    return False


def sync_when_up(base_url: str, admin: BasicAuth, users: Sequence[BasicAuth],
                 server_alive: Callable[[], bool], attempts: int = 5) -> SyncReport | None:
    """Wait for the server, then sync (a few tries: a worker may still be starting)."""
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as client:
        if not wait_until_up(client, server_alive):
            log.error("MLflow users not synced: the server did not come up")
            return None
        for attempt in range(1, attempts + 1):
            try:
                report = sync_users(client, admin, users)
            except (httpx.HTTPError, UserSyncError) as exc:
                log.warning("MLflow users sync attempt %d/%d failed: %s", attempt, attempts,
                            exc)
                if not server_alive():
                    return None
                time.sleep(RETRY_SECONDS * attempt)
                continue
            log.info("MLflow users synced: created %s, password set for %s, no longer "
                     "admin %s, skipped (the admin) %s", report.created, report.updated,
                     report.demoted, report.skipped)
            return report
    log.error("MLflow users not synced after %d attempts", attempts)
    return None
