"""The HTTP side of the CLI: one client for the gateway, errors as one readable line."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import click
import httpx

from tradai.cli import cognito, credentials


class CliError(click.ClickException):
    """Shown to the user as one line (``Error: ...``), exit status 1."""


@dataclass
class Target:
    api_url: str
    token: str


def resolve(api: str | None, token: str | None) -> Target:
    """Flag, then environment (TRADAI_API_URL / TRADAI_TOKEN), then the stored login."""
    creds = credentials.load()
    url = api or os.environ.get("TRADAI_API_URL") or creds.api_url
    if not url:
        raise CliError("no API URL: pass --api URL, set TRADAI_API_URL or run `tradai login`")
    tok = token or os.environ.get("TRADAI_TOKEN")
    if not tok:
        if creds.access_token and creds.expires_at and creds.expires_at < time.time() + 30 \
                and creds.refresh_token and creds.client_id:
            try:
                creds = cognito.refresh(creds)
            except cognito.LoginFailed as exc:
                raise CliError(str(exc)) from None
            credentials.save(creds)
        tok = creds.access_token
    if not tok:
        raise CliError("not logged in: run `tradai login` (or pass --token / TRADAI_TOKEN)")
    return Target(url.rstrip("/"), tok)


def reason(resp: httpx.Response) -> str:
    """The server's own words: gateway ``reason``/``message``, FastAPI ``detail``."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200] or resp.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    detail = body.get("detail")
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                         for d in detail if isinstance(d, dict))
    return str(body.get("reason") or detail or body.get("message") or body)[:300]


class Api:
    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target = target
        # TCP_NODELAY: a POST's headers and body go out as two writes; with Nagle the body
        # waits for the server's delayed ACK (~40 ms).
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP,
                                                         socket.TCP_NODELAY, 1)])
        headers = {"Authorization": f"Bearer {target.token}", "User-Agent": "tradai-cli"}
        self.http = httpx.Client(base_url=target.api_url, timeout=timeout, transport=transport,
                                 headers=headers)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.target.api_url}: {type(exc).__name__}: "
                           f"{exc}") from None
        if resp.status_code >= 400:
            extra = ""
            if resp.status_code == 429 and resp.headers.get("retry-after"):
                extra = f" (retry after {resp.headers['retry-after']} s)"
            raise CliError(f"{resp.status_code} {resp.reason_phrase}: {reason(resp)}{extra}")
        return resp.json()
