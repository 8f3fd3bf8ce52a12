"""Token validation (used by the gateway and the backend), with keys of our own: the emulator
cannot sign an expired token for us."""

from __future__ import annotations

import time

import pytest

from tests.unit.test_backend_fixtures import CLIENT, ISSUER, jwks_of, rsa_key, token
from tradai.services.backend_api.auth import CognitoConfig, JwksCache, TokenRejected, TokenVerifier
from tradai.services.backend_api.auth.verifier import KeysUnavailable, bearer_token

KEY = rsa_key()
OTHER = rsa_key()


def verifier(fetch=None) -> TokenVerifier:  # type: ignore[no-untyped-def]
    return TokenVerifier(ISSUER, CLIENT, JwksCache(fetch or (lambda: jwks_of(KEY, "k1"))))


def test_valid_access_token_gives_identity() -> None:
    ident = verifier().verify(token(KEY))
    assert (ident.sub, ident.username, ident.token_use) == ("user-1", "user-1", "access")


def test_valid_id_token_uses_aud() -> None:
    t = token(KEY, token_use="id", client_id=None, aud=CLIENT, username=None,
              **{"cognito:username": "u"})
    assert verifier().verify(t).username == "u"


@pytest.mark.parametrize(("tok", "reason"), [
    (lambda: token(KEY, exp=int(time.time()) - 60), "expired"),
    (lambda: token(OTHER), "signature does not verify"),
    (lambda: token(OTHER, kid="unknown"), "key this user pool does not have"),
    (lambda: token(KEY, iss="https://cognito-idp.eu-central-1.amazonaws.com/other"),
     "another user pool"),
    (lambda: token(KEY, client_id="someone-else"), "another app client"),
    (lambda: token(KEY, token_use="refresh"), "not access or id"),
    (lambda: token(KEY, token_use=None), "token_use"),
    (lambda: "not.a.token", "malformed"),
])
def test_rejections_say_why(tok, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenRejected, match=reason):
        verifier().verify(tok())


def test_hs256_token_is_refused() -> None:
    import jwt
    t = jwt.encode({"sub": "x"}, "secret-secret-secret-secret-secret", algorithm="HS256",
                   headers={"kid": "k1"})
    with pytest.raises(TokenRejected, match="algorithm"):
        verifier().verify(t)


def test_unknown_kids_do_not_refetch_every_time() -> None:
    fetches = []

    def fetch():  # type: ignore[no-untyped-def]
        fetches.append(1)
        return jwks_of(KEY, "k1")
    v = verifier(fetch)
    for _ in range(5):
        with pytest.raises(TokenRejected):
            v.verify(token(OTHER, kid=f"made-up-{_}"))
    assert len(fetches) == 1


def test_key_fetch_failure_is_not_a_bad_token() -> None:
    def fetch():  # type: ignore[no-untyped-def]
        raise OSError("connection refused")
    with pytest.raises(KeysUnavailable):
        verifier(fetch).verify(token(KEY))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer  "])
def test_bearer_header_required(header: str | None) -> None:
    with pytest.raises(TokenRejected):
        bearer_token(header)


def test_config_urls() -> None:
    local = CognitoConfig("eu-central-1", "eu-central-1_X", "c", "http://127.0.0.1:4566")
    assert local.jwks_url == "http://127.0.0.1:4566/eu-central-1_X/.well-known/jwks.json"
    assert local.issuer == "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_X"
    aws = CognitoConfig("eu-central-1", "eu-central-1_X", "c")
    assert aws.jwks_url == aws.issuer + "/.well-known/jwks.json"


class Wall:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_not_verified_again_until_it_expires(
        monkeypatch: pytest.MonkeyPatch) -> None:
    wall = Wall()
    v = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")), wall=wall)
    t = token(KEY, exp=int(wall.now) + 60)
    first = v.verify(t)
    decodes = []
    monkeypatch.setattr(v, "_decode", lambda *a: decodes.append(a))  # would break a re-verify
    assert v.verify(t) is first
    assert decodes == []
    wall.now += 60 + v.leeway  # past exp and the leeway: the remembered answer is not used
    with pytest.raises(TokenRejected, match="expired"):
        v.verify(t)


def test_rejected_tokens_are_not_remembered() -> None:
    v = verifier()
    bad = token(OTHER)
    for _ in range(2):
        with pytest.raises(TokenRejected, match="signature"):
            v.verify(bad)
    assert v._verified == {}


def test_remembered_tokens_are_bounded() -> None:
    wall = Wall()
    v = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")), wall=wall,
                      cache_size=3)
    tokens = [token(KEY, sub=f"user-{i}") for i in range(5)]
    for t in tokens:
        v.verify(t)
    assert list(v._verified) == tokens[2:]  # the oldest went first
    assert v.verify(tokens[0]).sub == "user-0"  # forgotten, so verified again: still valid
