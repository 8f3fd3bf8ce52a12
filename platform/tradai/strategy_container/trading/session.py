"""A trading session's container: resolve, warm up, trade, beat, follow the alias.

1. the version that ``STRATEGY_STAGE`` names, through the MLflow adapter;
2. the runnable config: the platform base, the version's config from S3, this session's
   overrides (dry-run or live with the keys from Secrets Manager, the trade database, the
   exchange through this task's egress);
3. ``warmup_days`` of candles from ArcticDB into the bot's cache;
4. the loop, on the platform clock: one ``process()`` of the bot every
   ``process_throttle_secs``, the trade database to S3 when it changed, a heartbeat every
   ``HEARTBEAT_PERIOD_SECONDS``, the alias checked every ``ALIAS_CHECK_SECONDS``: when it
   names another version, that version's bot replaces this one between two loops, on the same
   trade database, so open trades carry over (hot swap);
5. SIGTERM (ECS stopping the task): the loop ends, the database is saved, the bot cleaned up.

Errors a restart cannot fix (unknown strategy or alias, a strategy that does not load) set
``error`` on the session item (the API shows FAILED) and exit 2; the exchange or the registry
being away is waited out, with heartbeats, as long as it lasts.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from tradai import ecs_metadata
from tradai.clock import Clock
from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.config.service import ConfigInvalid, ConfigMergeService, base_config
from tradai.data.store import OhlcvStore
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import (
    InvalidStrategyVersion,
    RegistryUnavailable,
    StrategyNotFound,
    StrategyVersion,
)
from tradai.settings import aws_client
from tradai.strategy_container import runner
from tradai.strategy_container.config import Workspace
from tradai.strategy_container.errors import (
    EXIT_BAD_JOB,
    EXIT_OK,
    BadJob,
    ContainerError,
    DependencyFailed,
    ExchangeUnavailable,
    StrategyFailed,
)
from tradai.strategy_container.strategy_source import strategy_dir
from tradai.strategy_container.trading import warmup
from tradai.strategy_container.trading.bot import Bot, freqtrade_config
from tradai.strategy_container.trading.heartbeat import Beat, HeartbeatWriter
from tradai.strategy_container.trading.settings import TradingSettings
from tradai.strategy_container.trading.trade_state import TradeState
from tradai.trading.records import HEARTBEAT_PERIOD_SECONDS, RECENT_TRADES_KEPT

log = logging.getLogger("tradai.strategy_container.trading")

ALIAS_CHECK_SECONDS = 60.0  # the hot-swap check period (simulated seconds)
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 60.0


class TradingSession:
    def __init__(self, settings: TradingSettings, clock: Clock) -> None:
        self.s = settings
        self.clock = clock
        self.stopping = threading.Event()
        self.writer: HeartbeatWriter | None = None
        self.version: StrategyVersion | None = None
        self.version_since = 0.0  # when this version was chosen (simulated epoch seconds)
        self.bot: Bot | None = None
        self.latency_ms = 0.0

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> int:
        problems = self.s.problems()
        if problems:
            for p in problems:
                log.error("cannot start the trading session: %s", p)
            return EXIT_BAD_JOB
        # Each heartbeat names the ECS task that wrote it (from ECS's metadata endpoint).
        self.writer = HeartbeatWriter(aws_client("dynamodb"), aws_client("cloudwatch"),
                                      str(self.s.table), self.s.session_id, str(self.s.mode),
                                      ecs_metadata.task_arn(), self.s.ttl_days)
        root = Path(tempfile.mkdtemp(prefix=f"tradai-{self.s.session_id}-", dir=self.s.work_dir))
        try:
            return self._run(Workspace(root).create())
        except BadJob as exc:
            log.error("session %s failed: %s", self.s.session_id, exc.message)
            self.writer.failed(exc.message, self.clock.now())
            return EXIT_BAD_JOB
        except StrategyFailed as exc:
            log.error("session %s failed: %s", self.s.session_id, exc.message)
            self.writer.failed(exc.message, self.clock.now())
            return exc.exit_code
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, ws: Workspace) -> int:
        adapter = MLflowAdapter(str(self.s.mlflow_url),
                                ConfigStore(aws_client("s3"), str(self.s.configs_bucket)))
        state = TradeState(aws_client("s3"), self.s.state_bucket, self.s.session_id,
                           ws.root / "tradesv3.sqlite")
        resumed = self._waiting("restore the trade database", state.restore)
        self.version = self._waiting("resolve the version", lambda: self._resolve(adapter))
        self.version_since = self.clock.now()
        log.info("session %s: %s %s v%d (%s)%s", self.s.session_id, self.s.mode,
                 self.version.name, self.version.version, self.version.strategy_class,
                 "; resuming its trades" if resumed else "")
        config = self._waiting("build the config",
                               lambda: self._ft_config(adapter, self.version, ws, state))
        if self.s.mode == "live":
            self._waiting("check the exchange keys", lambda: check_keys(config))
        self.bot = self._waiting("start the bot", lambda: self._start(config))
        self._beat()  # the first heartbeat: the session is up
        try:
            self._loop(adapter, ws, state)
        finally:
            self._waiting_once(state.save)
            self.bot.close()
        return EXIT_OK

    def _loop(self, adapter: MLflowAdapter, ws: Workspace, state: TradeState) -> None:
        assert self.bot is not None
        now = self.clock.now()
        next_beat = now + HEARTBEAT_PERIOD_SECONDS
        next_check = now + ALIAS_CHECK_SECONDS
        while not self.stopping.is_set():
            started = self.clock.now()
            try:
                self.latency_ms = self.bot.process()
            except ContainerError as exc:  # the exchange away, a strategy error: try again
                log.warning("loop: %s", exc.message)
            self._waiting_once(state.save)
            now = self.clock.now()
            if now >= next_beat:
                self._beat()
                while next_beat <= now:
                    next_beat += HEARTBEAT_PERIOD_SECONDS
            if now >= next_check:
                self._follow_alias(adapter, ws, state)
                next_check = now + ALIAS_CHECK_SECONDS
            wake = min(started + self.bot.throttle_seconds, next_beat, next_check)
            self.clock.wait(self.stopping, wake - self.clock.now())

    # -- hot swap ------------------------------------------------------------------------------
    def _follow_alias(self, adapter: MLflowAdapter, ws: Workspace, state: TradeState) -> None:
        assert self.version is not None and self.bot is not None
        try:
            latest = self._resolve(adapter)
        except (DependencyFailed, BadJob) as exc:  # keep trading what runs
            log.warning("alias check: %s", exc.message)
            return
        if latest.version == self.version.version:
            return
        chosen_at = self.clock.now()
        log.info("session %s: %s now names v%d (was v%d): swapping", self.s.session_id,
                 self.s.stage, latest.version, self.version.version)
        try:
            config = self._ft_config(adapter, latest, ws, state)
            runner.startup_candles(config)  # the new class loads before the old bot goes
        except ContainerError as exc:
            log.error("hot swap to v%d refused, v%d keeps trading: %s", latest.version,
                      self.version.version, exc.message)
            return
        state.save()
        self.bot.close()
        self.bot = self._start(config)
        self.version, self.version_since = latest, chosen_at
        self._beat()

    # -- pieces ----------------------------------------------------------------------------------
    def _resolve(self, adapter: MLflowAdapter) -> StrategyVersion:
        try:
            return adapter.get_model_version(str(self.s.strategy), self.s.stage_ref)
        except (StrategyNotFound, InvalidStrategyVersion) as exc:
            raise BadJob(str(exc)) from exc
        except RegistryUnavailable as exc:
            raise DependencyFailed(str(exc)) from exc

    def _ft_config(self, adapter: MLflowAdapter, version: StrategyVersion, ws: Workspace,
                   state: TradeState) -> dict[str, Any]:
        try:
            version_config = adapter.load_config(version)
        except RegistryUnavailable as exc:
            raise DependencyFailed(str(exc)) from exc
        folder = ws.root / f"v{version.version}"
        folder.mkdir(exist_ok=True)
        code = strategy_dir(adapter.client, version, folder)
        assert adapter.config_store is not None
        merger = ConfigMergeService(adapter.config_store, base_config(self.s.exchange_url))
        try:
            merged = merger.merge(version, version_config, self._overrides(version, ws, code,
                                                                           state))
        except ConfigInvalid as exc:
            raise BadJob(f"strategy config of {version.name} v{version.version} is invalid "
                         f"for trading: {exc}") from exc
        return freqtrade_config(merged, folder / "config.json", ws.user_data, state.db_url)

    def _overrides(self, version: StrategyVersion, ws: Workspace, code: Path,
                   state: TradeState) -> dict[str, Any]:
        live = self.s.mode == "live"
        exchange: dict[str, Any] = {"pair_whitelist": list(version.pairs)}
        if live:
            exchange.update(self._keys())
        platform = {
            "dry_run": not live, "timeframe": version.timeframe, "db_url": state.db_url,
            "user_data_dir": str(ws.user_data), "strategy_path": str(code),
            "pairlists": [{"method": "StaticPairList"}], "exchange": exchange,
            "initial_state": "running", "bot_name": f"tradai-{self.s.session_id}",
        }
        return deep_merge(platform, exchange_layer(self.s.exchange_url, self.s.egress_proxy))

    def _keys(self) -> dict[str, str]:
        """Live keys from Secrets Manager; the values are never logged."""
        try:
            raw = aws_client("secretsmanager").get_secret_value(
                SecretId=str(self.s.exchange_secret))["SecretString"]
            value = json.loads(raw)
        except Exception as exc:
            raise DependencyFailed(f"exchange keys unreadable from secret "
                                   f"{self.s.exchange_secret}: {type(exc).__name__}") from exc
        key, secret = value.get("api_key"), value.get("api_secret")
        if not key or not secret:
            raise BadJob(f"live trading needs api_key and api_secret in secret "
                         f"{self.s.exchange_secret}")
        return {"key": str(key), "secret": str(secret)}

    def _start(self, ft_config: dict[str, Any]) -> Bot:
        warm = None
        if self.version is not None:
            try:
                store = OhlcvStore.from_settings()
                warm = warmup.read(store, list(self.version.pairs), self.version.timeframe,
                                   self.version.warmup_days, int(self.clock.now() * 1000))
                log.info("warm-up: %d candles from ArcticDB (%d days)", warm.candles,
                         self.version.warmup_days)
            except Exception as exc:  # the bot can still fetch its history from the exchange
                log.warning("warm-up from ArcticDB failed, the exchange will be asked: %s", exc)
        return Bot(copy.deepcopy(ft_config), warm)

    def _beat(self) -> None:
        assert self.writer is not None and self.bot is not None and self.version is not None
        try:
            state = self.bot.state(RECENT_TRADES_KEPT)
            self.writer.write(Beat(
                version=self.version.version, version_since=self.version_since,
                last_candle=state["last_candle"],
                open_trades=state["open_trades"], profit_abs=state["profit_abs"],
                profit_pct=state["profit_pct"], loop_latency_ms=self.latency_ms,
                recent_trades=state["recent_trades"]), self.clock.now())
        except Exception as exc:  # DynamoDB away: the next beat tries again
            log.warning("heartbeat not written: %s", exc)

    def _waiting(self, what: str, fn: Any) -> Any:
        """``fn()``, waiting out a dependency that is away (backoff on the platform clock)."""
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                return fn()
            except DependencyFailed as exc:
                if self.stopping.is_set():
                    raise
                log.warning("could not %s: %s; trying again in %.0f s", what, exc.message,
                            delay)
                self.clock.wait(self.stopping, delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _waiting_once(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:
            log.warning("%s: %s", getattr(fn, "__name__", "call"), exc)

    def stop(self, *_: Any) -> None:
        log.info("session %s: stop requested", self.s.session_id)
        self.stopping.set()


def check_keys(ft_config: dict[str, Any]) -> None:
    """A signed call with the session's keys before the bot starts: Freqtrade only logs a
    refused key while loading markets, then fails with "Could not load markets", which reads
    like the exchange being away; a wrong key is not fixed by waiting."""
    import ccxt

    exchange = ft_config["exchange"]
    client = getattr(ccxt, str(exchange["name"]))({
        **copy.deepcopy(exchange.get("ccxt_config") or {}),
        "apiKey": exchange["key"], "secret": exchange["secret"]})
    try:
        client.fetch_balance()
    except ccxt.AuthenticationError as exc:
        raise BadJob(f"the exchange refused the session's API keys: {exc}") from exc
    except ccxt.BaseError as exc:
        raise ExchangeUnavailable(f"exchange unavailable while checking the keys: {exc}"
                                  ) from exc


def main() -> int:
    session = TradingSession(TradingSettings(), Clock.from_env())
    signal.signal(signal.SIGTERM, session.stop)
    signal.signal(signal.SIGINT, session.stop)
    return session.run()
