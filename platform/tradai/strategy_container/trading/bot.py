"""Freqtrade's bot driven one loop at a time, and what the heartbeat reports about it.

The container drives ``FreqtradeBot.process()`` itself (rather than Freqtrade's ``Worker``) so
that its loop waits on the platform clock, the heartbeat is written between two loops, and the
bot can be replaced by another version's between two loops (hot swap) on the same trade
database. Everything runs on the main thread: Freqtrade's database session is per thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradai.strategy_container.runner import translated
from tradai.strategy_container.trading import warmup as warmup_mod

log = logging.getLogger(__name__)


def freqtrade_config(config: Mapping[str, Any], config_file: Path, user_data: Path,
                     db_url: str) -> dict[str, Any]:
    """What ``freqtrade trade --config FILE --db-url URL`` would run with."""
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode

    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
    args = {"config": [str(config_file)], "user_data_dir": str(user_data), "db_url": db_url}
    runmode = RunMode.DRY_RUN if config.get("dry_run", True) else RunMode.LIVE
    with translated("configuration"):
        return Configuration(args, runmode).get_config()


class Bot:
    """One strategy version trading: Freqtrade's bot with its candle cache warmed up."""

    def __init__(self, ft_config: dict[str, Any], warm: warmup_mod.Warmup | None) -> None:
        from freqtrade.enums import State
        from freqtrade.freqtradebot import FreqtradeBot

        with translated("trading start", str(ft_config.get("strategy"))):
            self.ft = FreqtradeBot(ft_config)
            self.timeframe = str(self.ft.config["timeframe"])
            self.seeded = warmup_mod.seed(self.ft.exchange, warm, self.timeframe) if warm else 0
            self.ft.state = State.RUNNING
            self.ft.startup()
        self.throttle_seconds = float(
            (self.ft.config.get("internals") or {}).get("process_throttle_secs", 5))

    def process(self) -> float:
        """One loop of the bot; returns how long it took (milliseconds)."""
        start = time.perf_counter()
        with translated("trading"):
            self.ft.process()
        return (time.perf_counter() - start) * 1000.0

    # -- what the heartbeat says --------------------------------------------------------------
    def state(self, recent: int) -> dict[str, Any]:
        from freqtrade.persistence import Trade

        trades = sorted(Trade.get_trades_proxy(), key=lambda t: t.id, reverse=True)
        open_trades = [t for t in trades if t.is_open]
        open_profit = 0.0
        for trade in open_trades:
            rate = self._last_close(trade.pair)
            if rate is not None:
                open_profit += float(trade.calc_profit(rate))
        profit = float(Trade.get_total_closed_profit()) + open_profit
        start = float(self.ft.wallets.get_starting_balance() or 0.0)
        return {
            "open_trades": len(open_trades),
            "profit_abs": profit,
            "profit_pct": 100.0 * profit / start if start else 0.0,
            "last_candle": self._last_candle(),
            "recent_trades": [_trade(t) for t in trades[:recent]],
        }

    def _frame(self, pair: str) -> Any:
        return self.ft.dataprovider.ohlcv(pair, self.timeframe, copy=False)

    def _last_close(self, pair: str) -> float | None:
        frame = self._frame(pair)
        return None if frame is None or frame.empty else float(frame["close"].iloc[-1])

    def _last_candle(self) -> str | None:
        ends = []
        for pair in self.ft.active_pair_whitelist:
            frame = self._frame(pair)
            if frame is not None and not frame.empty:
                ends.append(frame["date"].iloc[-1])
        return max(ends).isoformat() if ends else None

    def close(self) -> None:
        try:
            self.ft.cleanup()
        except Exception as exc:  # the next bot (or the task's end) follows regardless
            log.warning("bot cleanup: %s", exc)


def _trade(t: Any) -> dict[str, Any]:
    return {
        "trade_id": int(t.id), "pair": t.pair, "is_open": bool(t.is_open),
        "open_date": t.open_date_utc.isoformat() if t.open_date else None,
        "close_date": t.close_date_utc.isoformat() if t.close_date else None,
        "open_rate": float(t.open_rate), "close_rate": float(t.close_rate or 0) or None,
        "amount": float(t.amount), "stake_amount": float(t.stake_amount),
        "profit_abs": float(t.close_profit_abs) if t.close_profit_abs is not None else None,
        "profit_pct": (float(t.close_profit) * 100) if t.close_profit is not None else None,
        "exit_reason": t.exit_reason, "strategy": t.strategy,
    }
