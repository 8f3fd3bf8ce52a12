"""Pure rules of the data layer: timeframes, symbol names, gaps, freshness verdicts, range
validation, the ArcticDB URI, backoff and CCXT configuration."""

from __future__ import annotations

import ccxt
import numpy as np
import pytest

from tradai.data.arctic_uri import StoreNotConfigured, arctic_uri, redact
from tradai.data.exchange import ccxt_config
from tradai.data.freshness import Verdict, assess
from tradai.data.gaps import Run, internal_gaps, missing_runs
from tradai.data.keys import BadPair, SeriesKey, normalise_pair
from tradai.data.retry import Backoff, GaveUp, call_with_backoff
from tradai.data.settings import DataSettings
from tradai.data.store import SeriesInfo
from tradai.data.timeframes import UnknownTimeframe, last_closed_open_ms, timeframe_ms
from tradai.data.validation import BadRequest, check_range

M5 = 300_000
H1 = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
KEY = SeriesKey("binance", "BTC/USDT", "5m")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "TRADAI_")):
            monkeypatch.delenv(name)


def settings(**env: str) -> DataSettings:
    return DataSettings(_env_file=None, **env)  # type: ignore[call-arg]


# -- timeframes and keys ------------------------------------------------------------------


def test_timeframes() -> None:
    assert timeframe_ms("5m") == M5 and timeframe_ms("4h") == 4 * H1
    assert timeframe_ms("1d") == 24 * H1
    for bad in ("7m", "1w", "1M", "", "5"):
        with pytest.raises(UnknownTimeframe):
            timeframe_ms(bad)
    # 12:07 -> the 12:05 candle is forming, 12:00 is the newest closed one.
    assert last_closed_open_ms(T0 + 12 * H1 + 7 * 60_000, M5) == T0 + 12 * H1


def test_symbol_names_roundtrip() -> None:
    assert KEY.symbol == "binance/BTC_USDT/5m"
    assert SeriesKey.parse("binance/BTC_USDT/5m") == KEY
    assert SeriesKey.parse("notes") is None and SeriesKey.parse("binance/BTC_USDT/7m") is None
    assert normalise_pair(" btc_usdt ") == "BTC/USDT" == normalise_pair("BTC-USDT")
    with pytest.raises(BadPair):
        normalise_pair("BTCUSDT")


# -- gaps ---------------------------------------------------------------------------------


def times(*idx: int) -> np.ndarray:
    return T0 + np.array(idx, dtype=np.int64) * M5


def test_missing_runs_in_a_range() -> None:
    stored = times(2, 3, 4, 7, 8)
    runs = missing_runs(stored, T0, T0 + 10 * M5, M5)
    assert runs == [Run(T0, T0 + M5, 2), Run(T0 + 5 * M5, T0 + 6 * M5, 2),
                    Run(T0 + 9 * M5, T0 + 10 * M5, 2)]
    assert missing_runs(times(*range(11)), T0, T0 + 10 * M5, M5) == []
    assert missing_runs(np.zeros(0, dtype=np.int64), T0, T0 + 2 * M5, M5) == [
        Run(T0, T0 + 2 * M5, 3)]
    assert missing_runs(stored, T0 + M5, T0, M5) == []  # empty range


def test_internal_gaps_ignore_the_edges() -> None:
    assert internal_gaps(times(0, 1, 5, 6, 9), M5) == [
        Run(T0 + 2 * M5, T0 + 4 * M5, 3), Run(T0 + 7 * M5, T0 + 8 * M5, 2)]
    assert internal_gaps(times(4), M5) == []


# -- freshness on a fake "now" --------------------------------------------------------------


def info(last_idx: int, first_idx: int = 0) -> SeriesInfo:
    return SeriesInfo(KEY, T0 + first_idx * M5, T0 + last_idx * M5, last_idx - first_idx + 1)


@pytest.mark.parametrize(("now_offset_s", "last_idx", "verdict", "lag"), [
    (10 * 300 + 10, 9, Verdict.FRESH, 0),  # 10:10 into candle 10: newest closed is 9
    (10 * 300 + 299, 8, Verdict.FRESH, 1),  # one closed candle behind: still fresh
    (10 * 300 + 10, 7, Verdict.STALE, 2),
    (100 * 300, 9, Verdict.STALE, 90),
])
def test_freshness_verdicts(now_offset_s: int, last_idx: int, verdict: Verdict,
                            lag: int) -> None:
    now_ms = T0 + now_offset_s * 1000
    f = assess(KEY, info(last_idx), now_ms, max_lag_candles=1)
    assert f.verdict == verdict and f.lag_candles == lag
    assert f.age_s == (now_ms - (T0 + (last_idx + 1) * M5)) / 1000
    assert f.max_age_s == 600


def test_freshness_missing_and_stricter_lag() -> None:
    now_ms = T0 + 10 * M5 + 1000
    missing = assess(KEY, None, now_ms)
    assert missing.verdict == Verdict.MISSING and missing.last_ms is None
    assert missing.expected_last_ms == T0 + 9 * M5
    assert assess(KEY, info(8), now_ms, max_lag_candles=0).verdict == Verdict.STALE


# -- range validation -------------------------------------------------------------------------

NOW = T0 + 100 * M5 + 42_000  # candle 100 is forming


def test_range_is_aligned_and_clamped_to_the_last_closed_candle() -> None:
    rng = check_range("5m", T0 + 1, None, NOW, 10_000)
    assert rng.start_ms == T0 + M5  # rounded up to the next open time
    assert rng.end_ms == T0 + 99 * M5 and rng.candles == 99
    rng = check_range("5m", T0, T0 + 10 * M5 + 5, NOW, 10_000)
    assert (rng.start_ms, rng.end_ms, rng.candles) == (T0, T0 + 10 * M5, 11)
    # an end inside the forming candle is clamped, not refused
    assert check_range("5m", T0, NOW, NOW, 10_000).end_ms == T0 + 99 * M5


@pytest.mark.parametrize(("tf", "start", "end", "field"), [
    ("7m", T0, None, "timeframe"),
    ("5m", T0 + 10 * M5, T0 + 5 * M5, "end"),  # inverted
    ("5m", T0 + 10 * M5, T0 + 10 * M5, "end"),  # empty
    ("5m", NOW + H1, None, "start"),  # future start
    ("5m", T0, NOW + H1, "end"),  # future end
    ("5m", T0 - 1000 * M5, None, "start"),  # over the cap
])
def test_bad_ranges_name_the_field(tf: str, start: int, end: int | None, field: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_range(tf, start, end, NOW, max_candles=1000)
    assert err.value.field == field and err.value.reason


# -- ArcticDB URI -----------------------------------------------------------------------------


def test_uri_explicit_wins() -> None:
    s = settings(TRADAI_ARCTICDB_URI="lmdb:///tmp/x", TRADAI_BUCKET_ARCTICDB="b")
    assert arctic_uri(s) == "lmdb:///tmp/x"


def test_uri_for_the_emulator_and_minio() -> None:
    s = settings(AWS_ENDPOINT_URL="http://127.0.0.1:4566", TRADAI_BUCKET_ARCTICDB="tradai-arctic",
                 AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="s/cr+t",
                 AWS_DEFAULT_REGION="eu-central-1")
    uri = arctic_uri(s)
    assert uri == ("s3://127.0.0.1:tradai-arctic?access=testing&secret=s%2Fcr%2Bt&port=4566"
                   "&region=eu-central-1")
    assert "s%2Fcr" not in redact(uri) and "secret=***" in redact(uri)
    https = settings(AWS_ENDPOINT_URL="https://minio.lan", TRADAI_BUCKET_ARCTICDB="b",
                     TRADAI_ARCTICDB_PATH_PREFIX="dev")
    assert arctic_uri(https).startswith("s3s://minio.lan:b?aws_auth=true&port=443&")
    assert arctic_uri(https).endswith("&path_prefix=dev")


def test_uri_for_aws_and_missing_configuration() -> None:
    s = settings(TRADAI_BUCKET_ARCTICDB="tradai-prod-arcticdb", AWS_DEFAULT_REGION="eu-west-1")
    assert arctic_uri(s) == ("s3s://s3.eu-west-1.amazonaws.com:tradai-prod-arcticdb"
                             "?aws_auth=true&region=eu-west-1")
    with pytest.raises(StoreNotConfigured):
        arctic_uri(settings())


# -- backoff and the CCXT configuration ------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    b = Backoff(base_s=0.5, cap_s=4, max_attempts=6)
    assert [b.delay(a) for a in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert b.delay(1, retry_after_s=3) == 3 and b.delay(1, retry_after_s=3600) == 60


def test_call_with_backoff_retries_then_gives_up() -> None:
    slept: list[float] = []
    calls = iter([ccxt.RateLimitExceeded("429"), ccxt.ExchangeNotAvailable("503"), "ok"])

    def flaky() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert call_with_backoff(flaky, Backoff(1, 10, 5), (ccxt.NetworkError,),
                             sleep=slept.append) == "ok"
    assert slept == [1, 2]

    def down() -> None:
        raise ccxt.NetworkError("refused")

    with pytest.raises(GaveUp) as err:
        call_with_backoff(down, Backoff(0.1, 1, 3), (ccxt.NetworkError,), sleep=slept.append)
    assert err.value.attempts == 3
    with pytest.raises(ccxt.BadSymbol):  # not retryable: at once
        call_with_backoff(lambda: (_ for _ in ()).throw(ccxt.BadSymbol("x")), Backoff(),
                          (ccxt.NetworkError,), sleep=slept.append)


def test_ccxt_config_points_every_api_at_the_simulator_and_the_proxy() -> None:
    s = settings(TRADAI_EXCHANGE_URL="http://127.0.0.1:9100",
                 TRADAI_EGRESS_PROXY="http://127.0.0.1:3128", TRADAI_EXCHANGE_RATE_LIMIT_MS="5")
    cfg = ccxt_config(s)
    api = cfg["urls"]["api"]
    assert api["public"] == "http://127.0.0.1:9100/api/v3"
    assert api["sapi"] == "http://127.0.0.1:9100/sapi/v1"
    assert all(u.startswith("http://127.0.0.1:9100/") for u in api.values())
    assert cfg["httpProxy"] == "http://127.0.0.1:3128" and cfg["rateLimit"] == 5
    assert cfg["options"]["fetchMarkets"]["types"] == ["spot"] and cfg["enableRateLimit"]
    real = ccxt_config(settings())
    assert "urls" not in real and "httpProxy" not in real
