"""The MLflow service's users from the ``mlflow-users`` secret: parsing, and the sync against a
stand-in of MLflow's auth REST API (create, password update on every start, never an admin,
the admin's own name never touched)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tradai.registry import credentials as C
from tradai.services.mlflow_server import users as U

ADMIN = C.BasicAuth("admin", "admin-password-123")


class FakeMlflow:
    """Users by name: {"password", "is_admin"}; only the admin may call the user routes."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {
            "admin": {"password": ADMIN.password, "is_admin": True}}
        self.calls: list[str] = []
        self.healthy = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == U.HEALTH:
            return httpx.Response(200 if self.healthy else 503, text="OK")
        user, _, password = base64.b64decode(
            request.headers["authorization"].split()[1]).decode().partition(":")
        if self.users.get(user, {}).get("password") != password:
            return httpx.Response(401)
        if not self.users[user]["is_admin"]:
            return httpx.Response(403, text="Permission denied")
        self.calls.append(f"{request.method} {request.url.path}")
        body = json.loads(request.content) if request.content else {}
        name = request.url.params.get("username") or body.get("username")
        if request.url.path == U.GET_USER:
            if name not in self.users:
                return httpx.Response(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST"})
            return httpx.Response(200, json={"user": {"username": name,
                                                      "is_admin": self.users[name]["is_admin"]}})
        if request.url.path == U.CREATE_USER:
            self.users[name] = {"password": body["password"], "is_admin": False}
        elif request.url.path == U.UPDATE_PASSWORD:
            self.users[name]["password"] = body["password"]
        elif request.url.path == U.UPDATE_ADMIN:
            self.users[name]["is_admin"] = body["is_admin"]
        else:
            return httpx.Response(404)
        return httpx.Response(200, json={})


def client(fake: FakeMlflow) -> httpx.Client:
    return httpx.Client(base_url="http://mlflow.test", transport=httpx.MockTransport(fake))


def test_users_are_created_then_rotated_passwords_applied() -> None:
    fake = FakeMlflow()
    wanted = [C.BasicAuth("tradai-reader", "reader-pw-0001"),
              C.BasicAuth("operator@tradai.local", "operator-pw-01")]
    report = U.sync_users(client(fake), ADMIN, wanted)
    assert report.created == ["tradai-reader", "operator@tradai.local"]
    assert fake.users["tradai-reader"] == {"password": "reader-pw-0001", "is_admin": False}
    # the next start, with the operator's password rotated in the secret
    rotated = [wanted[0], C.BasicAuth("operator@tradai.local", "operator-pw-02")]
    report = U.sync_users(client(fake), ADMIN, rotated)
    assert report.created == [] and report.updated == ["tradai-reader", "operator@tradai.local"]
    assert fake.users["operator@tradai.local"]["password"] == "operator-pw-02"


def test_a_user_made_admin_by_hand_is_a_plain_user_again() -> None:
    fake = FakeMlflow()
    fake.users["operator@tradai.local"] = {"password": "old", "is_admin": True}
    report = U.sync_users(client(fake), ADMIN, [C.BasicAuth("operator@tradai.local", "new-pw")])
    assert report.demoted == ["operator@tradai.local"]
    assert fake.users["operator@tradai.local"] == {"password": "new-pw", "is_admin": False}


def test_the_admins_own_name_is_never_touched() -> None:
    fake = FakeMlflow()
    report = U.sync_users(client(fake), ADMIN, [C.BasicAuth("admin", "other-password")])
    assert report.skipped == ["admin"] and fake.calls == []
    assert fake.users["admin"] == {"password": ADMIN.password, "is_admin": True}


def test_a_refused_call_is_an_error_naming_the_user_not_the_password() -> None:
    fake = FakeMlflow()
    with pytest.raises(U.UserSyncError) as err:
        U.sync_users(client(fake), C.BasicAuth("admin", "wrong-password"),
                     [C.BasicAuth("tradai-reader", "reader-pw-0001")])
    assert "tradai-reader" in str(err.value) and "401" in str(err.value)
    assert "reader-pw-0001" not in str(err.value)


def test_sync_waits_for_health_and_gives_up_when_the_server_is_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMlflow()
    fake.healthy = False
    monkeypatch.setattr(U, "RETRY_SECONDS", 0.0)
    polls = iter([True, True, False])  # the server exits after two polls
    with client(fake) as c:
        assert U.wait_until_up(c, lambda: next(polls)) is False
        fake.healthy = True
        assert U.wait_until_up(c, lambda: True) is True


# -- the secret ------------------------------------------------------------------------------
def test_parse_users_keeps_order_and_hides_passwords() -> None:
    found = C.parse_users(json.dumps({"users": {"tradai-reader": "pw-1", "op@x": "pw-2"}}))
    assert [u.username for u in found] == ["tradai-reader", "op@x"]
    assert "pw-1" not in repr(found)


@pytest.mark.parametrize("value", ['{"username": "a", "password": "b"}', '{"users": []}',
                                   '{"users": {"a": ""}}', '{"users": {"a": 1}}', "not json"])
def test_a_malformed_users_secret_is_refused(value: str) -> None:
    with pytest.raises(C.AuthSecretUnavailable):
        C.parse_users(value)


def test_users_secret_name_from_project_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("TRADAI_PROJECT", "TRADAI_ENV", "TRADAI_MLFLOW_USERS_SECRET"):
        monkeypatch.delenv(key, raising=False)
    assert C.MlflowAuthSettings().users_secret_id() == "tradai-local-mlflow-users"
    monkeypatch.setenv("TRADAI_ENV", "prod")
    assert C.MlflowAuthSettings().users_secret_id() == "tradai-prod-mlflow-users"
