"""Trading sessions: start (validate, claim, deploy), list, show, stop.

The session item (``tradai.trading.records``) is claimed with a conditional PutItem before
anything runs: one session per strategy and mode, race-safe (a STOPPED one's id may be taken
again, and its old heartbeat goes with it). Every check that can refuse (strategy, alias or
version in the registry, exchange keys for live) runs before the claim, so a refusal leaves
nothing behind. Later writes are UpdateItems of the API's own attributes only
(``SESSION_ATTRIBUTES``), never the container's heartbeat or the monitor's.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests.service import Owner
from tradai.backtests.store import from_item
from tradai.backtests.validation import StrategyRegistry
from tradai.clock import Clock
from tradai.registry.models import InvalidStrategyVersion, StrategyNotFound
from tradai.trading import records as R
from tradai.trading.deployment import CAPACITY_PROVIDERS, SessionDeployment
from tradai.trading.errors import (
    InvalidSession,
    SessionConflict,
    SessionNotFound,
    TradingUnavailable,
)
from tradai.trading.models import SessionRequest, TradingSession, TradingSessionDetail
from tradai.trading.settings import TradingSettings

OWNER_INDEX = "by-owner"  # trading-heartbeats GSI, hash key ``owner`` (topology spec)

_ser = TypeSerializer()


class TradingSessions:
    def __init__(self, dynamodb: Any, ecs: Any, secrets: Any,
                 registry: StrategyRegistry | None, clock: Clock,
                 settings: TradingSettings) -> None:
        self.ddb = dynamodb
        self.secrets = secrets
        self.registry = registry
        self.clock = clock
        self.settings = settings
        self.deployment = SessionDeployment(ecs, settings)

    # -- start --------------------------------------------------------------------------------
    def start(self, request: SessionRequest, owner: Owner,
              registry: StrategyRegistry | None = None) -> TradingSessionDetail:
        """Only starting needs the registry (reads and stops work while MLflow is down)."""
        self._check_ref(request, registry or self.registry)
        if request.mode == "live":
            self._check_exchange_keys()
        sid = R.session_id(request.strategy, request.mode)
        now = self.clock.now()
        record = {
            "strategy_id": sid, "owner": owner.id, "strategy": request.strategy,
            "ref": request.ref, "mode": request.mode, "status": R.STARTING,
            "service_name": self.settings.session_resource(sid),
            "capacity_provider": CAPACITY_PROVIDERS[request.mode], "created_at": now,
        }
        self._claim(record)
        try:
            deployed = self.deployment.start(sid, request.strategy, request.ref, request.mode)
        except Exception:
            self._release(sid, now)  # nothing runs: the id is free again
            raise
        self._update(sid, {"service_arn": deployed.service_arn,
                           "task_definition_arn": deployed.task_definition_arn},
                     condition=("created_at", now))
        return to_detail(self._get(sid) or record, now)

    def _check_ref(self, request: SessionRequest, registry: StrategyRegistry | None) -> None:
        if registry is None:
            raise TradingUnavailable("strategy registry is not configured")
        ref: str | int = request.alias if request.alias is not None else request.version or 0
        field = "alias" if request.alias is not None else "version"
        try:
            registry.get_model_version(request.strategy, ref)
        except StrategyNotFound as exc:
            try:
                registry.get_strategy(request.strategy)
            except StrategyNotFound:
                raise InvalidSession(f"unknown strategy {request.strategy!r}",
                                     "strategy") from None
            except Exception as inner:
                raise _registry_down(inner) from None
            raise InvalidSession(f"strategy {request.strategy!r} has no {field} {ref!r} "
                                 f"({exc})", field) from None
        except InvalidStrategyVersion as exc:
            raise InvalidSession(str(exc), exc.field or field) from None
        except Exception as exc:
            raise _registry_down(exc) from None

    def _check_exchange_keys(self) -> None:
        """Live trading needs non-empty ``api_key`` and ``api_secret`` in the exchange secret.
        Only whether they are there is ever said, never what they are."""
        name = self.settings.secret
        refusal = InvalidSession(f"live trading needs exchange API keys in secret {name} "
                                 "(api_key and api_secret)", "mode")
        try:
            raw = self.secrets.get_secret_value(SecretId=name).get("SecretString") or ""
        except ClientError as exc:
            if _code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                raise refusal from None
            raise TradingUnavailable(f"Secrets Manager did not answer for {name}: "
                                     f"{_code(exc)}") from None
        except BotoCoreError as exc:
            raise TradingUnavailable(f"Secrets Manager did not answer for {name}: "
                                     f"{type(exc).__name__}") from None
        try:
            keys = json.loads(raw)
        except ValueError:
            raise refusal from None
        if not isinstance(keys, dict) or not all(
                isinstance(keys.get(k), str) and keys[k].strip() for k in ("api_key",
                                                                          "api_secret")):
            raise refusal

    # -- read ---------------------------------------------------------------------------------
    def list_sessions(self, owner: Owner) -> list[TradingSession]:
        """The caller's sessions, newest first: a Query on the owner index reads theirs only
        (a Scan read every user's session on each request)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.settings.table, "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner.id}}}
        try:
            while True:
                page = self.ddb.query(**kwargs)
                items.extend(from_item(i) for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise _table_down(exc) from None
        now = self.clock.now()
        items.sort(key=lambda i: float(i.get("created_at") or 0), reverse=True)
        return [to_summary(i, now) for i in items]

    def show(self, session_id: str, owner: Owner) -> TradingSessionDetail:
        return to_detail(self._owned(session_id, owner), self.clock.now())

    # -- stop ---------------------------------------------------------------------------------
    def stop(self, session_id: str, owner: Owner) -> TradingSessionDetail:
        item = self._owned(session_id, owner)
        if item.get("status") == R.STOPPED:
            raise SessionConflict(f"session {session_id} is already stopped")
        now = self.clock.now()
        try:
            self._update(session_id, {"status": R.STOPPING, "stopped_by": owner.id},
                         condition=("owner", owner.id), not_stopped=True)
        except _Lost:
            raise SessionConflict(f"session {session_id} is already stopped") from None
        self.deployment.stop(str(item.get("service_name") or
                                 self.settings.session_resource(session_id)),
                             item.get("task_definition_arn"))
        self._update(session_id, {"status": R.STOPPED, "stopped_at": now},
                     condition=("owner", owner.id))
        return to_detail(self._get(session_id) or item, self.clock.now())

    # -- the table ----------------------------------------------------------------------------
    def _claim(self, record: dict[str, Any]) -> None:
        try:
            self.ddb.put_item(
                TableName=self.settings.table, Item=to_item(record),
                ConditionExpression="attribute_not_exists(strategy_id) OR #s = :stopped",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":stopped": {"S": R.STOPPED}})
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise _table_down(exc) from None
            existing = self._get(record["strategy_id"]) or {}
            raise SessionConflict(
                f"a {record['mode']} session of {record['strategy']} already exists "
                f"({record['strategy_id']}, {R.display_status(existing)}); stop it first",
                "strategy") from None
        except BotoCoreError as exc:
            raise _table_down(exc) from None

    def _release(self, session_id: str, created_at: float) -> None:
        """Give back a claim whose deployment failed (only our own claim)."""
        # Taken over meanwhile, or the table is down: then the item stays STARTING.
        with contextlib.suppress(ClientError, BotoCoreError):
            self.ddb.delete_item(
                TableName=self.settings.table, Key={"strategy_id": {"S": session_id}},
                ConditionExpression="created_at = :c",
                ExpressionAttributeValues={":c": _ser.serialize(_number(created_at))})

    def _update(self, session_id: str, values: dict[str, Any],
                condition: tuple[str, Any] | None = None, not_stopped: bool = False) -> None:
        unknown = set(values) - set(R.SESSION_ATTRIBUTES)
        assert not unknown, f"not the API's attributes: {unknown}"  # records.py contract
        names = {f"#a{i}": k for i, k in enumerate(values)}
        vals = {f":v{i}": _ser.serialize(_number(v)) for i, v in enumerate(values.values())}
        conditions = ["attribute_exists(strategy_id)"]
        if condition is not None:
            names["#c"] = condition[0]
            vals[":c"] = _ser.serialize(_number(condition[1]))
            conditions.append("#c = :c")
        if not_stopped:
            names["#st"] = "status"
            vals[":stopped"] = {"S": R.STOPPED}
            conditions.append("#st <> :stopped")
        try:
            self.ddb.update_item(
                TableName=self.settings.table, Key={"strategy_id": {"S": session_id}},
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names, ExpressionAttributeValues=vals)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise _Lost from None
            raise _table_down(exc) from None
        except BotoCoreError as exc:
            raise _table_down(exc) from None

    def _get(self, session_id: str) -> dict[str, Any] | None:
        try:
            item = self.ddb.get_item(TableName=self.settings.table, ConsistentRead=True,
                                     Key={"strategy_id": {"S": session_id}}).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise _table_down(exc) from None
        return from_item(item) if item else None

    def _owned(self, session_id: str, owner: Owner) -> dict[str, Any]:
        item = self._get(session_id)
        if item is None or item.get("owner") != owner.id:
            raise SessionNotFound(f"no trading session {session_id}")
        return item


class _Lost(Exception):
    """A conditional update found the item changed under it."""


# -- the item as the API shows it ---------------------------------------------------------------
def to_summary(item: dict[str, Any], now: float) -> TradingSession:
    return TradingSession(**_common(item, now))


def to_detail(item: dict[str, Any], now: float) -> TradingSessionDetail:
    trades = item.get("recent_trades")
    return TradingSessionDetail(
        **_common(item, now),
        recent_trades=[t for t in trades if isinstance(t, dict)][:R.RECENT_TRADES_KEPT]
        if isinstance(trades, list) else [],
        loop_latency_ms=_float(item.get("loop_latency_ms")), task_arn=item.get("task_arn"),
        heartbeats=_int(item.get("heartbeats")),
        task_definition_arn=item.get("task_definition_arn"))


def _common(item: dict[str, Any], now: float) -> dict[str, Any]:
    last = _float(item.get("last_heartbeat"))
    return {
        "session_id": item["strategy_id"], "strategy": str(item.get("strategy", "")),
        "ref": str(item.get("ref", "")), "mode": item.get("mode", "dry-run"),
        "status": R.display_status(item), "version": _int(item.get("version")),
        "last_heartbeat": last,
        "heartbeat_age_seconds": round(max(0.0, now - last), 1) if last is not None else None,
        "last_candle": item.get("last_candle"), "open_trades": _int(item.get("open_trades")),
        "profit_abs": _float(item.get("profit_abs")),
        "profit_pct": _float(item.get("profit_pct")),
        "capacity_provider": item.get("capacity_provider"),
        "service_name": item.get("service_name"),
        "created_at": _float(item.get("created_at")),
        "stopped_at": _float(item.get("stopped_at")), "stopped_by": item.get("stopped_by"),
        "error": item.get("error"), "stale_since": _float(item.get("stale_since")),
    }


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_number(v)) for k, v in record.items() if v is not None}


def _number(value: Any) -> Any:
    """floats go to DynamoDB as Decimal (the serializer refuses floats)."""
    return Decimal(str(value)) if isinstance(value, float) else value


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _table_down(exc: Exception) -> TradingUnavailable:
    detail = _code(exc) or type(exc).__name__
    return TradingUnavailable(f"trading-session table unavailable: {detail}")


def _registry_down(exc: Exception) -> TradingUnavailable:
    return TradingUnavailable(f"strategy registry unavailable: {type(exc).__name__}: {exc}")
