"""Figures for the exchange simulator, run as its own process like in the stack:
candles per second served through CCXT ``fetch_ohlcv`` (1000-candle pages, cold and warm
cache), and p50/p99 latency of klines and ticker requests.

    .venv/bin/python benchmarks/bench_exchange.py [--pages 100] [--calls 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ccxt
import requests

from tradai_sim.exchange.server import CCXT_API_PATHS

M5 = 300_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def start_exchange(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = tmp / "ready.json"
    cmd = [
        sys.executable,
        "-m",
        "tradai_sim.exchange",
        "--port",
        "0",
        "--seed",
        "1",
        "--weight-per-minute",
        "0",
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    while not (ready.exists() and ready.read_text()):
        if proc.poll() is not None:
            raise SystemExit("exchange did not start")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["url"]


def ohlcv_rate(url: str, pages: int) -> tuple[float, float, int]:
    ex = ccxt.binance(
        {
            "urls": {"api": {k: url + p for k, p in CCXT_API_PATHS.items()}},
            "options": {"fetchMarkets": {"types": ["spot"]}},
            "enableRateLimit": False,
        }
    )
    ex.load_markets()
    now = ex.fetch_time()
    since0 = now - now % M5 - pages * 1000 * M5
    rates = []
    for _ in range(2):  # cold (candles generated), then warm (served from the day cache)
        since, n = since0, 0
        t0 = time.perf_counter()
        for _ in range(pages):
            page = ex.fetch_ohlcv("BTC/USDT", "5m", since=since, limit=1000)
            n += len(page)
            since = page[-1][0] + M5
        rates.append(n / (time.perf_counter() - t0))
    return rates[0], rates[1], n


def latencies(url: str, path: str, params: dict[str, str], calls: int) -> list[float]:
    session = requests.Session()
    session.get(url + path, params=params).raise_for_status()  # warm the connection
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        r = session.get(url + path, params=params)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--calls", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_exchange(Path(tmp))
        try:
            cold, warm, n = ohlcv_rate(url, args.pages)
            print(
                f"fetch_ohlcv 5m, 1000-candle pages, {n} candles: "
                f"{cold:,.0f} candles/s cold, {warm:,.0f} candles/s warm"
            )
            cases = [
                (
                    "klines limit=500",
                    "/api/v3/klines",
                    {"symbol": "BTCUSDT", "interval": "5m", "limit": "500"},
                ),
                (
                    "klines limit=1",
                    "/api/v3/klines",
                    {"symbol": "BTCUSDT", "interval": "5m", "limit": "1"},
                ),
                ("ticker/24hr", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}),
                ("ticker/bookTicker", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}),
            ]
            for name, path, params in cases:
                lat = latencies(url, path, params, args.calls)
                print(
                    f"{name:<20} p50 {statistics.median(lat):6.2f} ms   "
                    f"p99 {pct(lat, 99):6.2f} ms   ({args.calls} calls)"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
