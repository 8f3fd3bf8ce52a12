"""ISO 8601 durations as FIS parameters take them (``PT2M``, ``PT30S``, ``PT1H30M``, ``P1D``)."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: object) -> float:
    """Seconds in ``text``; ValueError naming the value when it is not an ISO 8601 duration."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT") or str(text).endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (for example PT2M or PT30S)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
            + parts.get("s", 0))


def format_duration(seconds: float) -> str:
    """Seconds as ISO 8601 (for messages): 90 -> PT1M30S."""
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    frac = seconds - whole
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "")
    if s or frac or out == "PT":
        out += f"{s + frac:g}S"
    return out
