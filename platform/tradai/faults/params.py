"""Checks for action parameter values. FIS passes every parameter as a string; each check
returns None when the value is acceptable, else the reason (the caller adds the field path)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tradai.faults.durations import format_duration, parse_duration

Check = Callable[[str], str | None]

MINUTE = 60.0
TWELVE_HOURS = 12 * 3600.0
_AZ_NAME = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_AZ_ID = re.compile(r"^[a-z]{3}\d+-az\d+$")
_OPERATION = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_NAMESPACE = re.compile(r"^[a-z][a-z0-9-]*$")


def duration(min_seconds: float = MINUTE, max_seconds: float = TWELVE_HOURS) -> Check:
    def check(value: str) -> str | None:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            return str(exc)
        if not min_seconds <= seconds <= max_seconds:
            return (f"{value!r} is outside the allowed range {format_duration(min_seconds)} to "
                    f"{format_duration(max_seconds)}")
        return None

    return check


def integer(low: int, high: int, what: str = "an integer") -> Check:
    def check(value: str) -> str | None:
        if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
            return f"{value!r} is not {what} from {low} to {high}"
        return None

    return check


def percentage() -> Check:
    return integer(1, 100, "a percentage")


def choice(*allowed: str) -> Check:
    def check(value: str) -> str | None:
        if value not in allowed:
            return f"{value!r} is not one of {', '.join(allowed)}"
        return None

    return check


def boolean() -> Check:
    return choice("true", "false")


def text() -> Check:
    def check(value: str) -> str | None:
        return None if value.strip() else "must not be empty"

    return check


def availability_zone() -> Check:
    def check(value: str) -> str | None:
        if _AZ_NAME.match(value) or _AZ_ID.match(value):
            return None
        return f"{value!r} is not an Availability Zone name or ID (for example eu-central-1a)"

    return check


def availability_zones() -> Check:
    """A comma-separated list of AZ names or IDs."""
    one = availability_zone()

    def check(value: str) -> str | None:
        items = [v.strip() for v in value.split(",")]
        if not all(items):
            return f"{value!r} is not a comma-separated list of Availability Zones"
        return next((msg for msg in map(one, items) if msg), None)

    return check


def operations() -> Check:
    """API operation names, comma-separated (``ReplaceRoute,CreateRoute``)."""

    def check(value: str) -> str | None:
        items = [v.strip() for v in value.split(",")]
        bad = [v for v in items if not _OPERATION.match(v)]
        if bad:
            return (f"{value!r} is not a comma-separated list of API operation names "
                    f"(for example ReplaceRoute,CreateRoute)")
        return None

    return check


def service_namespace(supported: tuple[str, ...] | None, action_id: str,
                      alternative: str | None = None) -> Check:
    """An AWS API namespace (``ec2``, ``states``); ``supported`` limits it as AWS does."""

    def check(value: str) -> str | None:
        if not _NAMESPACE.match(value):
            return f"{value!r} is not an AWS API namespace (for example ec2 or states)"
        if supported is not None and value not in supported:
            msg = (f"{value!r} is not supported by {action_id}; the supported value is "
                   f"{', '.join(supported)}")
            return msg + (f" (use {alternative} for other namespaces)" if alternative else "")
        return None

    return check
