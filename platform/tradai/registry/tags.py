"""How a strategy version's facts are stored as MLflow model version tags, and read back.

Tags are strings; ``pairs`` is written as a JSON list and read as JSON or comma-separated
(versions registered by hand through the MLflow UI tend to use commas).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tradai.registry.models import InvalidStrategyVersion, StrategyNotFound, StrategyVersion

TIMEFRAME = "timeframe"
PAIRS = "pairs"
WARMUP_DAYS = "warmup_days"
CONFIG_S3_PATH = "config_s3_path"
STRATEGY_CLASS = "strategy_class"
CONTENT_SHA256 = "content_sha256"  # what was registered: makes re-registration detectable
REQUIRED = (TIMEFRAME, PAIRS, WARMUP_DAYS, CONFIG_S3_PATH, STRATEGY_CLASS)

LATEST = "latest"
# Names end up in MLflow filter strings and S3 keys: keep them plain.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidStrategyVersion(
            f"strategy name {name!r} is invalid: use letters, digits, '_', '.', '-' "
            "(up to 100, starting with a letter or digit)", field="name")
    return name


def check_alias(alias: str) -> str:
    if alias.lower() == LATEST or re.fullmatch(r"[vV]\d+", alias) \
            or not ALIAS_PATTERN.match(alias):
        raise InvalidStrategyVersion(
            f"alias {alias!r} is invalid: letters, digits, '_', '-', starting with a letter; "
            "'latest' and 'v<N>' are reserved", field="aliases")
    return alias


def parse_ref(ref: str | int) -> tuple[str, int | str | None]:
    """``3`` / ``"3"`` -> version 3; ``"latest"`` -> latest; anything else is an alias."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        if ref < 1:
            raise InvalidStrategyVersion(f"version must be >= 1, got {ref}", field="version")
        return "version", ref
    text = str(ref).strip()
    if text.isdigit():
        return parse_ref(int(text))
    if text.lower() == LATEST:
        return "latest", None
    if not text:
        raise InvalidStrategyVersion("a version number, 'latest' or an alias is required",
                                     field="version")
    return "alias", text


def format_pairs(pairs: Iterable[str]) -> str:
    return json.dumps(list(pairs))


def parse_pairs(value: str) -> list[str]:
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidStrategyVersion(f"tag 'pairs' is not valid JSON: {exc}") from exc
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise InvalidStrategyVersion("tag 'pairs' must be a JSON list of strings")
        return [p.strip() for p in parsed if p.strip()]
    return [p.strip() for p in text.split(",") if p.strip()]


def version_tags(*, timeframe: str, pairs: Iterable[str], warmup_days: int,
                 strategy_class: str, config_s3_path: str | None = None,
                 extra: Mapping[str, str] | None = None) -> dict[str, str]:
    tags = dict(extra or {})
    tags.update({TIMEFRAME: timeframe, PAIRS: format_pairs(pairs),
                 WARMUP_DAYS: str(int(warmup_days)), STRATEGY_CLASS: strategy_class})
    if config_s3_path:
        tags[CONFIG_S3_PATH] = config_s3_path
    return tags


def strategy_version(name: str, version: str | int, tags: Mapping[str, str], *,
                     aliases: Iterable[str] = (), run_id: str | None = None,
                     created_ms: int | None = None) -> StrategyVersion:
    """The contract model from an MLflow model version's fields. A version without the
    platform's tags is not a usable strategy version: StrategyNotFound names what is missing."""
    missing = [k for k in REQUIRED if not tags.get(k)]
    if missing:
        raise StrategyNotFound(
            f"version {version} of strategy {name!r} lacks tag(s) {', '.join(missing)}")
    try:
        warmup = int(tags[WARMUP_DAYS])
        pairs = parse_pairs(tags[PAIRS])
    except ValueError as exc:  # InvalidStrategyVersion is one
        raise StrategyNotFound(
            f"version {version} of strategy {name!r} has a malformed tag: {exc}") from exc
    return StrategyVersion(
        name=name, version=int(version), aliases=sorted(aliases), timeframe=tags[TIMEFRAME],
        pairs=pairs, warmup_days=warmup, config_s3_path=tags[CONFIG_S3_PATH],
        strategy_class=tags[STRATEGY_CLASS], run_id=run_id or None,
        created_at=created_ms / 1000 if created_ms else None, tags=dict(tags))


def from_model_version(mv: Any, aliases: Iterable[str] | None = None) -> StrategyVersion:
    """From ``mlflow.entities.model_registry.ModelVersion`` (search results carry no aliases,
    so callers may pass them from the registered model)."""
    return strategy_version(mv.name, mv.version, mv.tags or {},
                            aliases=mv.aliases if aliases is None else aliases,
                            run_id=mv.run_id, created_ms=mv.creation_timestamp)
