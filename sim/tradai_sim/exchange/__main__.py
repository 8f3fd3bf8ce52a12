"""``python -m tradai_sim.exchange --host 127.0.0.1 --port 9100 --seed 7 [--pairs ...]``.

Serves until SIGTERM / SIGINT. Fault flags set the initial fault state; drills change it at
run time through ``POST /_admin/faults``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from tradai.clock import default_clock
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.ratelimit import BINANCE_WEIGHT_PER_MINUTE
from tradai_sim.exchange.server import make_server
from tradai_sim.exchange.symbols import DEFAULT_PAIRS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tradai_sim.exchange", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--pairs",
        default=",".join(DEFAULT_PAIRS),
        help="comma-separated unified symbols, e.g. BTC/USDT,ETH/BTC",
    )
    p.add_argument(
        "--weight-per-minute",
        type=int,
        default=BINANCE_WEIGHT_PER_MINUTE,
        help="request-weight budget per minute (0 = unlimited)",
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--force-429-for-seconds", type=float, default=0.0)
    p.add_argument("--retry-after", type=int, default=None)
    p.add_argument(
        "--error-burst",
        default=None,
        metavar="STATUS:COUNT",
        help="answer the next COUNT requests with STATUS, e.g. 503:5",
    )
    p.add_argument("--outage", action="store_true", help="start in outage (503 to everything)")
    p.add_argument("--outage-mode", choices=["503", "close"], default="503")
    p.add_argument(
        "--require-header",
        default=None,
        metavar="NAME",
        help="refuse (403) requests without this header, e.g. X-Tradai-Nat",
    )
    p.add_argument(
        "--egress-token-env",
        default=None,
        metavar="VAR",
        help="refuse (403) requests without the egress mark whose token is in $VAR "
        "(the local cloud's NAT instances and internet gateway add it)",
    )
    p.add_argument(
        "--ready-file", default=None, help="write {url, port, pid} as JSON here once listening"
    )
    p.add_argument(
        "--state-file",
        default=None,
        help="keep API keys, balances, orders and trades in this JSON file (loaded at start)",
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def initial_faults(args: argparse.Namespace) -> dict[str, Any]:
    faults: dict[str, Any] = {
        "latency_ms": args.latency_ms,
        "outage": args.outage,
        "outage_mode": args.outage_mode,
    }
    if args.force_429_for_seconds:
        faults["force_429_for_seconds"] = args.force_429_for_seconds
    if args.retry_after is not None:
        faults["retry_after"] = args.retry_after
    if args.error_burst:
        status, _, count = args.error_burst.partition(":")
        faults["error_burst"] = {"status": int(status), "count": int(count or 1)}
    return faults


def egress_token(args: argparse.Namespace) -> str | None:
    if not args.egress_token_env:
        return None
    token = os.environ.get(args.egress_token_env)
    if not token:
        raise SystemExit(f"error: --egress-token-env {args.egress_token_env}: variable not set")
    return token


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    pairs = [p.strip().upper() for p in args.pairs.split(",") if p.strip()]
    market = Market(args.seed, pairs)
    server = make_server(
        market,
        args.host,
        args.port,
        clock=default_clock(),
        weight_per_minute=args.weight_per_minute or None,
        require_header=args.require_header,
        egress_token=egress_token(args),
        state_file=Path(args.state_file) if args.state_file else None,
    )
    server.app.set_faults(initial_faults(args))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    info = {"url": server.url, "port": server.port, "pid": os.getpid()}
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            json.dump(info, f)
    print(json.dumps(info), flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
