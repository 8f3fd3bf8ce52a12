"""Binance's request security for SIGNED (TRADE, USER_DATA) endpoints.

https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security:

- the key travels in the ``X-MBX-APIKEY`` header (missing or malformed: -2014, unknown: -2015,
  both HTTP 401);
- ``signature`` is the hex HMAC-SHA256, keyed with the secret, of ``totalParams``: the query
  string concatenated with the form-encoded request body (no ``&`` between them), without the
  ``signature`` parameter itself; HMAC signatures are not case-sensitive (mismatch: -1022);
- ``timestamp`` (ms) is accepted when ``timestamp < serverTime + 1000`` and
  ``serverTime - timestamp <= recvWindow``; ``recvWindow`` defaults to 5000 and may not exceed
  60000 (outside the window: -1021; too large a window: -1131).

"Server time" is the exchange's clock: the stack's shared (possibly dilated) clock, so a
timestamp is read in simulated time. The two tolerances, though, bound real work (the request's
transit and the client's clock skew), so under dilation they are measured in wall time, the
clock in which that work runs: at 20x a request signed 6 simulated seconds ago (0.3 wall s in
transit) is within the default 5000 ms window, as it would be on Binance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from tradai_sim.exchange.accounts import Account
from tradai_sim.exchange.api import ApiError, Params, mandatory

KEY_HEADER = "x-mbx-apikey"
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
AHEAD_TOLERANCE_MS = 1000
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{1,128}$")


def sign(secret: str, payload: str) -> str:
    """What a client sends as ``signature`` for ``payload`` (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(raw: str) -> tuple[str, str | None]:
    """(``raw`` with its ``signature=`` parameter removed, the signature or None)."""
    kept, found = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            found = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), found


def total_params(query: str, body: str) -> tuple[str, str | None]:
    """Binance's ``totalParams`` (query then body) and the signature the request carries."""
    q, sig_q = _without_signature(query)
    b, sig_b = _without_signature(body)
    return q + b, sig_q or sig_b


def api_key_of(headers: dict[str, str], lookup: Callable[[str], Account | None]) -> Account:
    """The account whose key is in ``X-MBX-APIKEY`` (header names lower-cased)."""
    key = headers.get(KEY_HEADER, "")
    if not _KEY_FORMAT.match(key):
        raise ApiError(-2014, "API-key format invalid.", 401)
    account = lookup(key)
    if account is None:
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return account


def _window(params: Params) -> float:
    raw = params.get("recvWindow")
    if raw is None or raw == "":
        return float(DEFAULT_RECV_WINDOW_MS)
    try:
        window = float(raw)  # up to three decimals (microseconds) are allowed
    except ValueError:
        raise ApiError(
            -1100, "Illegal characters found in parameter 'recvWindow'; legal range is "
            "'^[0-9]{1,20}(\\.[0-9]{1,3})?$'.") from None
    if window > MAX_RECV_WINDOW_MS:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    if window <= 0:
        raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.")
    return window


def check_timing(params: Params, now_ms: int,
                 to_wall: Callable[[float], float] = lambda ms: ms) -> None:
    """``to_wall``: simulated milliseconds -> wall milliseconds (the clock's ``to_wall``)."""
    raw = params.get("timestamp")
    if not raw:
        raise mandatory("timestamp")
    try:
        ts = int(raw)
    except ValueError:
        raise ApiError(
            -1100, "Illegal characters found in parameter 'timestamp'; legal range is "
            "'^[0-9]{1,20}$'.") from None
    window = _window(params)
    if to_wall(ts - now_ms) >= AHEAD_TOLERANCE_MS:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if to_wall(now_ms - ts) > window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def verify(
    headers: dict[str, str],
    params: Params,
    query: str,
    body: str,
    now_ms: int,
    lookup: Callable[[str], Account | None],
    to_wall: Callable[[float], float] = lambda ms: ms,
) -> Account:
    """The signed request's account, or the ApiError Binance would answer.

    Order: key (-2014/-2015), then the signature's presence and value (-1102/-1022), then the
    timestamp (-1102/-1021): a request is only trusted for its time once it is authentic.
    """
    account = api_key_of(headers, lookup)
    payload, signature = total_params(query, body)
    if not signature:
        raise mandatory("signature")
    expected = sign(account.secret, payload)
    if not hmac.compare_digest(expected, signature.lower()):
        raise ApiError(-1022, "Signature for this request is not valid.")
    check_timing(params, now_ms, to_wall)
    return account
