"""The synthetic market: seeded, deterministic candles for every pair, pure (no I/O, no clock).

Model, per pair, in two levels so any range can be generated without walking from the epoch:

- Daily level (cheap, computed once per pair over the whole horizon): a three-state Markov
  volatility regime shared by all pairs (calm / normal / turbulent, each with its own drift),
  a persistent idiosyncratic log-volatility (AR(1), the GARCH-like clustering), a market factor
  shared by all pairs (cross-pair correlation), and weak mean reversion of the log price so a
  path stays plausible for decades. This fixes the log price at every UTC midnight.
- Minute level (generated per (pair, day) on demand, cached): heteroscedastic Gaussian minute
  returns (intraday seasonality x lognormal noise x the day's volatility, partly driven by a
  shared market minute factor) turned into a bridge that ends exactly at the next midnight's
  price. Every random draw is keyed by (seed, pair, day), so a candle is a function of
  (seed, pair, timestamp) only, whatever range was asked for first.

Cross pairs whose legs are both USDT pairs (ETH/BTC) are the ratio of their legs' paths, so
triangular prices agree. Prices are integers of ticks; higher timeframes aggregate 1m candles.

A drill may inject a regime change (``RegimeChange``): from an instant on, every pair's minute
moves are scaled and drifted around the price at that instant. Candles before it never change;
after it the path stays continuous and deterministic (a function of seed, change and time).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from tradai_sim.exchange.intervals import MINUTE_MS, interval_minutes
from tradai_sim.exchange.symbols import DEFAULT_PAIRS, PairSpec, spec_for

EPOCH_MS = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)  # first candle ever
DAY_MINUTES = 1440
DAY_MS = DAY_MINUTES * MINUTE_MS
HORIZON_DAYS = 366 * 30  # the path is defined until 2049

# Regimes: calm, normal, turbulent. Volatility multipliers and annual drift per regime.
REGIME_VOL = np.array([0.45, 1.0, 2.4])
REGIME_DRIFT = np.array([0.30, 0.0, -0.60]) / 365.0
REGIME_TRANSITIONS = np.array(
    [
        [0.955, 0.040, 0.005],  # calm lasts ~3 weeks
        [0.030, 0.950, 0.020],
        [0.010, 0.080, 0.910],  # turbulence lasts ~11 days
    ]
)
MARKET_CORRELATION = 0.55  # loading of every pair on the shared market factor
MEAN_REVERSION = 1.0 / 400.0  # per day, towards the start price (log)
LOGVOL_PERSISTENCE = 0.92
LOGVOL_SHOCK = 0.18

_minute = np.arange(DAY_MINUTES)
# Intraday activity: quiet in the Asian night, busiest around the US open (~15:00 UTC).
SEASONALITY = 1.0 + 0.35 * np.cos(2 * np.pi * (_minute / 60.0 - 15.0) / 24.0)

_SALT_MARKET = 0x5EED_0001
_SALT_PAIR_DAILY = 0x5EED_0002
_SALT_MARKET_MINUTE = 0x5EED_0003
MAX_REGIME_VOLATILITY = 20.0
MAX_REGIME_DRIFT_PER_DAY = 1.0
MAX_DAILY_VOLATILITY = 1.0


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


@dataclass(frozen=True)
class Candles:
    """Candles as parallel arrays; prices in quote units, volumes in base units."""

    open_time: np.ndarray  # int64 ms
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    trades: np.ndarray  # int64
    taker_buy_volume: np.ndarray
    taker_buy_quote_volume: np.ndarray
    interval_ms: int

    def __len__(self) -> int:
        return len(self.open_time)

    @property
    def close_time(self) -> np.ndarray:
        return self.open_time + self.interval_ms - 1


@dataclass(frozen=True)
class _Day:
    """One (pair, day) of 1m candles in integer units (ticks, lot steps) for exact sums."""

    o: np.ndarray
    h: np.ndarray
    l: np.ndarray  # noqa: E741
    c: np.ndarray
    vol: np.ndarray  # lot steps
    qv: np.ndarray  # quote volume (float)
    trades: np.ndarray
    tb: np.ndarray  # taker buy, lot steps


@dataclass(frozen=True)
class RegimeChange:
    """From ``since_ms`` on (a minute boundary) the market is in another regime, joined to the
    old one at that instant (the price there is the seeded path's). Each day's moves keep their
    seeded shape but are scaled: by ``volatility``, or with ``daily_volatility`` to that
    standard deviation of the day's log return whatever the seeded regime was (so the new
    regime does not depend on the date). ``drift_per_day`` of log drift is added."""

    since_ms: int
    volatility: float = 1.0
    drift_per_day: float = 0.0
    daily_volatility: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.since_ms, bool) or not isinstance(self.since_ms, int):
            raise ValueError("since_ms must be an integer (epoch milliseconds)")
        if self.since_ms < EPOCH_MS or self.since_ms % MINUTE_MS:
            raise ValueError("since_ms must be a minute boundary on or after 2020-01-01")
        if not 0 < self.volatility <= MAX_REGIME_VOLATILITY:
            raise ValueError(f"volatility must be in (0, {MAX_REGIME_VOLATILITY:g}]")
        if not -MAX_REGIME_DRIFT_PER_DAY <= self.drift_per_day <= MAX_REGIME_DRIFT_PER_DAY:
            raise ValueError(f"drift_per_day must be within +-{MAX_REGIME_DRIFT_PER_DAY:g}")
        if self.daily_volatility is not None:
            if not 0 < self.daily_volatility <= MAX_DAILY_VOLATILITY:
                raise ValueError(f"daily_volatility must be in (0, {MAX_DAILY_VOLATILITY:g}]")
            if self.volatility != 1.0:
                raise ValueError("give volatility (a multiplier) or daily_volatility, not both")

    @property
    def since_minute(self) -> int:
        """The first changed minute, counted from the market's epoch."""
        return (self.since_ms - EPOCH_MS) // MINUTE_MS

    def as_dict(self) -> dict[str, float | int | None]:
        return {"since_ms": self.since_ms, "volatility": self.volatility,
                "drift_per_day": self.drift_per_day, "daily_volatility": self.daily_volatility}


@dataclass(frozen=True)
class _Warp:
    """Per day from the change's first day: the changed log price at the day's reference
    point (``level``), that reference on the seeded path (``ref``) and the day's scale."""

    first_day: int
    level: np.ndarray
    ref: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class _Daily:
    log_open: np.ndarray  # log price at each midnight, HORIZON_DAYS + 1
    sigma: np.ndarray  # daily volatility (std of the day's log return)


class Market:
    """All pairs of one seeded market. Thread-safe; caches generated days (LRU)."""

    def __init__(
        self, seed: int = 0, pairs: list[str] | None = None, cache_days: int = 512
    ) -> None:
        self.seed = int(seed)
        self.specs: dict[str, PairSpec] = {p: spec_for(p) for p in (pairs or DEFAULT_PAIRS)}
        self._by_id = {s.market_id: s for s in self.specs.values()}
        self._cache_days = cache_days
        self._lock = threading.RLock()
        self._daily: dict[str, _Daily] = {}
        self._paths: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._days: OrderedDict[tuple[str, int], _Day] = OrderedDict()
        self._market_minute: OrderedDict[int, np.ndarray] = OrderedDict()
        rng = _rng(self.seed, _SALT_MARKET)
        u = rng.random(HORIZON_DAYS)
        self.market_factor = rng.standard_normal(HORIZON_DAYS)
        self.regime = self._regimes(u)
        self.regime_change: RegimeChange | None = None
        self._warps: dict[str, _Warp] = {}  # per pair, for the regime change

    def set_regime_change(self, change: RegimeChange | None) -> None:
        """Inject (or with None remove) a regime change; generated days are forgotten."""
        with self._lock:
            self.regime_change = change
            self._warps.clear()
            self._paths.clear()
            self._days.clear()

    # -- lookup -------------------------------------------------------------------------

    @property
    def pairs(self) -> list[str]:
        return list(self.specs)

    def spec_by_id(self, market_id: str) -> PairSpec | None:
        return self._by_id.get(market_id)

    # -- daily level ---------------------------------------------------------------------

    @staticmethod
    def _regimes(u: np.ndarray) -> np.ndarray:
        cum = np.cumsum(REGIME_TRANSITIONS, axis=1)
        out = np.empty(len(u), dtype=np.int8)
        state = 1
        for d, x in enumerate(u):  # a Markov chain is sequential; ~10k steps, once
            out[d] = state
            state = int(np.searchsorted(cum[state], x, side="right"))
            state = min(state, 2)
        return out

    def _legs(self, spec: PairSpec) -> tuple[PairSpec, PairSpec] | None:
        """USDT legs of a cross pair (ETH/BTC -> ETH/USDT, BTC/USDT), else None."""
        if spec.quote == "USDT":
            return None
        base, quote = spec_for(f"{spec.base}/USDT"), spec_for(f"{spec.quote}/USDT")
        return base, quote

    def _daily_of(self, spec: PairSpec) -> _Daily:
        with self._lock:
            got = self._daily.get(spec.symbol)
            if got is not None:
                return got
            rng = _rng(self.seed, spec.key, _SALT_PAIR_DAILY)
            shocks = rng.standard_normal(HORIZON_DAYS)
            vol_shocks = rng.standard_normal(HORIZON_DAYS)
            logvol = np.empty(HORIZON_DAYS)
            h = 0.0
            for d in range(HORIZON_DAYS):
                logvol[d] = h
                h = LOGVOL_PERSISTENCE * h + LOGVOL_SHOCK * vol_shocks[d]
            base_sigma = spec.annual_vol / np.sqrt(365.0)
            sigma = base_sigma * REGIME_VOL[self.regime] * np.exp(logvol - LOGVOL_SHOCK**2)
            rho = MARKET_CORRELATION
            eps = rho * self.market_factor + np.sqrt(1 - rho * rho) * shocks
            drift = REGIME_DRIFT[self.regime] - 0.5 * sigma**2
            anchor = np.log(spec.start_price)
            log_open = np.empty(HORIZON_DAYS + 1)
            x = anchor
            for d in range(HORIZON_DAYS):
                log_open[d] = x
                x = x + drift[d] - MEAN_REVERSION * (x - anchor) + sigma[d] * eps[d]
            log_open[HORIZON_DAYS] = x
            got = _Daily(log_open=log_open, sigma=sigma)
            self._daily[spec.symbol] = got
            return got

    # -- minute level --------------------------------------------------------------------

    def _market_minutes(self, day: int) -> np.ndarray:
        got = self._market_minute.get(day)
        if got is None:
            got = _rng(self.seed, _SALT_MARKET_MINUTE, day).standard_normal(DAY_MINUTES)
            self._market_minute[day] = got
            if len(self._market_minute) > self._cache_days:
                self._market_minute.popitem(last=False)
        return got

    def _log_path(self, spec: PairSpec, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(log close of each minute of ``day``, minute volatility) for a pair."""
        key = (spec.symbol, day)
        with self._lock:
            got = self._paths.get(key)
            if got is not None:
                self._paths.move_to_end(key)
                return got
            legs = self._legs(spec)
            if legs is not None:
                (lb, sb), (lq, sq) = self._log_path(legs[0], day), self._log_path(legs[1], day)
                got = (lb - lq, np.sqrt(sb * sb + sq * sq))
            else:
                got = self._changed(spec, day, *self._bridge(spec, day))
            self._paths[key] = got
            if len(self._paths) > self._cache_days:
                self._paths.popitem(last=False)
            return got

    def _bridge(self, spec: PairSpec, day: int) -> tuple[np.ndarray, np.ndarray]:
        daily = self._daily_of(spec)
        rng = _rng(self.seed, spec.key, day)
        weights = SEASONALITY * np.exp(0.35 * rng.standard_normal(DAY_MINUTES))
        var = weights * weights
        var *= daily.sigma[day] ** 2 / var.sum()
        sigma = np.sqrt(var)
        rho = MARKET_CORRELATION
        z = sigma * (
            rho * self._market_minutes(day)
            + np.sqrt(1 - rho * rho) * rng.standard_normal(DAY_MINUTES)
        )
        start, end = daily.log_open[day], daily.log_open[day + 1]
        # Condition the Gaussian path on its endpoint: spread the gap in proportion to variance.
        z -= var / var.sum() * (z.sum() - (end - start))
        log_close = start + np.cumsum(z)
        log_close[-1] = end  # exact, so the next day opens on this close to the tick
        return log_close, sigma

    def _changed(self, spec: PairSpec, day: int, log_close: np.ndarray,
                 sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A USDT pair's minute path of ``day`` under the regime change (unchanged before it)."""
        change = self.regime_change
        if change is None or (day + 1) * DAY_MINUTES <= change.since_minute:
            return log_close, sigma
        minute = day * DAY_MINUTES + _minute
        after = minute >= change.since_minute
        w = self._warp_of(spec, change)
        k = day - w.first_day
        warped = (w.level[k] + w.scale[k] * (log_close - w.ref[k])
                  + change.drift_per_day / DAY_MINUTES * (minute - change.since_minute + 1))
        return np.where(after, warped, log_close), np.where(after, sigma * w.scale[k], sigma)

    def _warp_of(self, spec: PairSpec, change: RegimeChange) -> _Warp:
        """The change's per-day levels for a USDT pair, from its daily path (computed once)."""
        got = self._warps.get(spec.symbol)
        if got is not None:
            return got
        daily = self._daily_of(spec)
        first = change.since_minute // DAY_MINUTES
        before_day, before_i = divmod(change.since_minute - 1, DAY_MINUTES)
        anchor = float(self._bridge(spec, before_day)[0][before_i])  # seeded, never changed
        if change.daily_volatility is not None:
            scale = change.daily_volatility / daily.sigma[first:]
        else:
            scale = np.full(HORIZON_DAYS - first, change.volatility)
        ref = daily.log_open[first:HORIZON_DAYS].copy()
        ref[0] = anchor  # the first day is changed from the change's minute on
        step = scale * (daily.log_open[first + 1:] - ref)  # each day's changed move
        level = anchor + np.concatenate([[0.0], np.cumsum(step[:-1])])
        got = _Warp(first, level, ref, scale)
        self._warps[spec.symbol] = got
        return got

    def _day(self, spec: PairSpec, day: int) -> _Day:
        key = (spec.symbol, day)
        with self._lock:
            got = self._days.get(key)
            if got is not None:
                self._days.move_to_end(key)
                return got
        got = self._make_day(spec, day)
        with self._lock:
            self._days[key] = got
            if len(self._days) > self._cache_days:
                self._days.popitem(last=False)
        return got

    def _day_open_log(self, spec: PairSpec, day: int) -> float:
        legs = self._legs(spec)
        if legs is not None:
            return self._day_open_log(legs[0], day) - self._day_open_log(legs[1], day)
        log_open = float(self._daily_of(spec).log_open[day])
        change = self.regime_change
        prev = day * DAY_MINUTES - 1  # the open is the previous minute's close, changed like it
        if change is None or prev < change.since_minute:
            return log_open
        with self._lock:
            w = self._warp_of(spec, change)
            k = day - 1 - w.first_day
            return float(w.level[k] + w.scale[k] * (log_open - w.ref[k])
                         + change.drift_per_day / DAY_MINUTES * (prev - change.since_minute + 1))

    def _make_day(self, spec: PairSpec, day: int) -> _Day:
        log_close, sigma = self._log_path(spec, day)
        log_open = np.empty(DAY_MINUTES)
        log_open[0] = self._day_open_log(spec, day)
        log_open[1:] = log_close[:-1]
        rng = _rng(self.seed, spec.key, day, 1)
        u, v, noise, taker = rng.standard_normal((4, DAY_MINUTES))
        tick = spec.tick

        def ticks(logp: np.ndarray) -> np.ndarray:
            return np.maximum(np.rint(np.exp(logp) / tick).astype(np.int64), 1)

        o, c = ticks(log_open), ticks(log_close)
        hi_log = np.maximum(log_open, log_close) + 0.6 * sigma * np.abs(u)
        lo_log = np.minimum(log_open, log_close) - 0.6 * sigma * np.abs(v)
        h = np.maximum(ticks(hi_log), np.maximum(o, c))
        low = np.minimum(ticks(lo_log), np.minimum(o, c))

        # Volume follows activity: more in busy hours, turbulent regimes and big moves.
        ret = log_close - log_open
        move = np.abs(ret) / np.maximum(sigma, 1e-12)
        change = self.regime_change
        boost: np.ndarray | float = 1.0
        legs = self._legs(spec)
        if change is not None and (day + 1) * DAY_MINUTES > change.since_minute:
            # Busier in a more volatile regime, as in the seeded ones (a cross pair: its base).
            w = self._warp_of(legs[0] if legs else spec, change)
            after = day * DAY_MINUTES + _minute >= change.since_minute
            boost = np.where(after, w.scale[day - w.first_day] ** 0.7, 1.0)
        activity = (
            SEASONALITY
            * boost
            * REGIME_VOL[self.regime[day]] ** 0.7
            * np.exp(0.45 * noise - 0.1)
            * (0.6 + 0.4 * move)
        )
        qv_target = spec.daily_quote_volume / DAY_MINUTES * activity
        typical = (o + h + low + c) * (tick / 4.0)
        vol = np.maximum(np.rint(qv_target / typical / spec.step).astype(np.int64), 1)
        qv = vol * spec.step * typical
        trades = np.maximum(np.rint(40.0 * activity).astype(np.int64), 1)
        buy_share = np.clip(
            0.5 + 0.25 * np.tanh(ret / np.maximum(sigma, 1e-12)) + 0.05 * taker, 0.02, 0.98
        )
        tb = np.rint(vol * buy_share).astype(np.int64)
        return _Day(o=o, h=h, l=low, c=c, vol=vol, qv=qv, trades=trades, tb=tb)

    # -- public --------------------------------------------------------------------------

    def minutes(self, symbol: str, first_minute: int, count: int) -> _Day:
        """Raw 1m candles for minute indices [first, first + count) since the Unix epoch."""
        spec = self.specs[symbol]
        if count <= 0:
            empty = np.zeros(0, dtype=np.int64)
            return _Day(empty, empty, empty, empty, empty, np.zeros(0), empty, empty)
        epoch_min = EPOCH_MS // MINUTE_MS
        rel0 = first_minute - epoch_min
        if rel0 < 0 or rel0 + count > HORIZON_DAYS * DAY_MINUTES:
            raise ValueError("minute range outside the market's history")
        d0, d1 = rel0 // DAY_MINUTES, (rel0 + count - 1) // DAY_MINUTES
        days = [self._day(spec, d) for d in range(d0, d1 + 1)]
        a = rel0 - d0 * DAY_MINUTES
        cut = slice(a, a + count)

        def cat(name: str) -> np.ndarray:
            if len(days) == 1:
                return getattr(days[0], name)[cut]
            return np.concatenate([getattr(x, name) for x in days])[cut]

        return _Day(*(cat(n) for n in ("o", "h", "l", "c", "vol", "qv", "trades", "tb")))

    def candles(
        self, symbol: str, interval: str, first_open_ms: int, count: int, now_ms: int
    ) -> Candles:
        """``count`` candles from ``first_open_ms`` (aligned), none opening after ``now_ms``.

        The candle containing ``now_ms`` is open: it aggregates the minutes up to now, the
        current minute revealed in proportion to the time elapsed in it.
        """
        spec = self.specs[symbol]
        step_min = interval_minutes(interval)
        interval_ms = step_min * MINUTE_MS
        first_open_ms = max(first_open_ms, EPOCH_MS)
        if first_open_ms % interval_ms:
            raise ValueError("first_open_ms must be aligned to the interval")
        last_open_ms = min(first_open_ms + (count - 1) * interval_ms, now_ms)
        n = max(0, (last_open_ms - first_open_ms) // interval_ms + 1) if count > 0 else 0
        if n == 0:
            return _empty(interval_ms)
        first_min = first_open_ms // MINUTE_MS
        now_min = now_ms // MINUTE_MS
        n_min = min(n * step_min, now_min - first_min + 1)
        m = self.minutes(symbol, first_min, n_min)
        o, h, low, c, vol, qv, tb = m.o, m.h, m.l, m.c, m.vol, m.qv, m.tb
        trades = m.trades
        if first_min + n_min - 1 == now_min:
            frac = (now_ms - now_min * MINUTE_MS) / MINUTE_MS
            o, h, low, c, vol, qv, trades, tb = _reveal(m, frac)
        starts = np.arange(0, n_min, step_min)
        tick, lot = spec.tick, spec.step
        return Candles(
            open_time=first_open_ms + np.arange(len(starts), dtype=np.int64) * interval_ms,
            open=o[starts] * tick,
            high=np.maximum.reduceat(h, starts) * tick,
            low=np.minimum.reduceat(low, starts) * tick,
            close=c[np.append(starts[1:], n_min) - 1] * tick,
            volume=np.add.reduceat(vol, starts) * lot,
            quote_volume=np.add.reduceat(qv, starts),
            trades=np.add.reduceat(trades, starts),
            taker_buy_volume=np.add.reduceat(tb, starts) * lot,
            taker_buy_quote_volume=np.add.reduceat(qv * (tb / np.maximum(vol, 1)), starts),
            interval_ms=interval_ms,
        )

    def last_price_ticks(self, symbol: str, now_ms: int) -> int:
        """The live price (in ticks): the current minute's close as revealed so far."""
        c = self.candles(symbol, "1m", now_ms - now_ms % MINUTE_MS, 1, now_ms)
        return round(float(c.close[0]) / self.specs[symbol].tick)


def _reveal(m: _Day, frac: float) -> tuple[np.ndarray, ...]:
    """Copies of minute arrays with the last (current) minute only ``frac`` formed."""
    o, h, low, c = m.o.copy(), m.h.copy(), m.l.copy(), m.c.copy()
    vol, qv, trades, tb = m.vol.copy(), m.qv.copy(), m.trades.copy(), m.tb.copy()
    i = -1
    c[i] = o[i] + round(frac * (c[i] - o[i]))
    h[i] = max(o[i], c[i]) + round(frac * (h[i] - max(m.o[i], m.c[i])))
    low[i] = min(o[i], c[i]) - round(frac * (min(m.o[i], m.c[i]) - m.l[i]))
    vol[i] = max(1, round(frac * vol[i])) if vol[i] else 0
    tb[i] = min(vol[i], round(frac * tb[i]))
    qv[i] = qv[i] * frac
    trades[i] = max(1, round(frac * trades[i]))
    return o, h, low, c, vol, qv, trades, tb


def _empty(interval_ms: int) -> Candles:
    f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Candles(i, f, f, f, f, f, f, i, f, f, interval_ms)
