"""The internet part: runs the exchange simulator (``python -m tradai_sim.exchange``) as a child
process of the cloud, on the shared clock, with a fixed seed so the market is reproducible.

``prepare`` (before the bootstrap) picks the port and publishes the URL: in ``status`` under
``endpoints.exchange`` and, as ``TRADAI_EXCHANGE_URL``, in every task definition and Lambda.
Settings read from the cloud's environment: ``TRADAI_SIM_EXCHANGE_SEED`` (42),
``TRADAI_SIM_EXCHANGE_PAIRS`` (the simulator's default pairs),
``TRADAI_SIM_EXCHANGE_OPEN=1`` (serve requests that did not leave the VPC through a NAT instance
or the internet gateway; by default they are refused with 403, so a misrouted client fails
loudly).

Live trading: the exchange keeps its accounts in ``<state dir>/exchange-state.json`` (a restart
of the process keeps keys, balances and open orders). Once it answers, ``start`` has it issue an
API key pair (10,000 USDT) and stores it in the stack's ``exchange-credentials`` secret
(PutSecretValue, fields ``api_key`` / ``api_secret``), unless the secret already holds a key the
exchange knows; the components whose access names the secret find its physical name in
``TRADAI_SECRET_EXCHANGE_CREDENTIALS`` (the runtime configuration).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from typing import Any

import requests
from botocore.exceptions import ClientError

from tradai_sim.cloud.context import CloudContext
from tradai_sim.vpc.marks import EGRESS_HEADER, EGRESS_TOKEN_ENV, EGRESS_TOKEN_HEADER

log = logging.getLogger(__name__)

DEFAULT_SEED = 42
START_TIMEOUT_S = 30.0
RESOURCE_KEY = "_exchange"
CREDENTIALS_SECRET = "exchange-credentials"  # the topology's secret for live trading
CREDENTIALS_ENV = "TRADAI_SECRET_EXCHANGE_CREDENTIALS"
EXCHANGE_URL_ENV = "TRADAI_EXCHANGE_URL"
STATE_FILE = "exchange-state.json"


def prepare(ctx: CloudContext) -> None:
    from tradai_sim.ports import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ctx.resources[RESOURCE_KEY] = {"port": port, "url": url}
    ctx.publish_endpoint("exchange", url)
    task_env = ctx.resources.setdefault("task_env", {})
    task_env[EXCHANGE_URL_ENV] = url
    # The secret's name (CREDENTIALS_ENV) comes from the runtime configuration, to those whose
    # access names the secret (the strategy task, the backend), as on AWS.


class ExchangePart:
    name = "internet"

    def __init__(self, ctx: CloudContext, port: int, url: str) -> None:
        self.ctx = ctx
        self.port = port
        self.url = url
        self.seed = int(os.environ.get("TRADAI_SIM_EXCHANGE_SEED", DEFAULT_SEED))
        self.proc: subprocess.Popen[bytes] | None = None
        self.credentials: str | None = None  # "issued", "kept" or why there are none
        self.token = "" if os.environ.get("TRADAI_SIM_EXCHANGE_OPEN") == "1" else str(
            ctx.resources.get("_egress_token") or "")

    def command(self) -> list[str]:
        argv = [self.ctx.python(), "-m", "tradai_sim.exchange", "--host", "127.0.0.1",
                "--port", str(self.port), "--seed", str(self.seed),
                "--state-file", str(self.ctx.state_dir / STATE_FILE)]
        if pairs := os.environ.get("TRADAI_SIM_EXCHANGE_PAIRS"):
            argv += ["--pairs", pairs]
        if self.token:
            argv += ["--egress-token-env", EGRESS_TOKEN_ENV]
        return argv

    def headers(self) -> dict[str, str]:
        """The harness's own requests are marked as the internet gateway's would be."""
        return {EGRESS_HEADER: "harness", EGRESS_TOKEN_HEADER: self.token} if self.token else {}

    def start(self) -> None:
        with (self.ctx.log_dir / "exchange.log").open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(), env=self.ctx.child_env({EGRESS_TOKEN_ENV: self.token}),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.ctx.register_child(self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._pings():
            if self.proc.poll() is not None:
                raise RuntimeError(f"exchange exited with {self.proc.returncode}; "
                                   f"see {self.ctx.log_dir / 'exchange.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"exchange did not answer {self.url}/api/v3/ping in time")
            time.sleep(0.1)
        log.info("exchange simulator pid %d at %s (seed %d)", self.proc.pid, self.url, self.seed)
        self.credentials = self.store_credentials()

    def store_credentials(self) -> str:
        """Put a key pair the exchange issued into the ``exchange-credentials`` secret."""
        sm = self.ctx.client("secretsmanager")
        name = self.ctx.name(CREDENTIALS_SECRET)
        try:
            current = json.loads(sm.get_secret_value(SecretId=name).get("SecretString") or "{}")
        except (ClientError, ValueError) as exc:
            log.warning("secret %s unreadable (%s): live sessions get no exchange key", name, exc)
            return f"secret {name} unreadable: {exc}"
        key = current.get("api_key") if isinstance(current, dict) else None
        if key and requests.get(f"{self.url}/_admin/accounts/{key}",
                                timeout=5).status_code == 200:
            return "kept"  # a restarted stack whose exchange state still has this key
        r = requests.post(f"{self.url}/_admin/api-keys", json={}, timeout=5)
        r.raise_for_status()
        issued = r.json()
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(
            {"api_key": issued["apiKey"], "api_secret": issued["secretKey"]}))
        log.info("exchange API key issued into secret %s", name)
        return "issued"

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _pings(self, timeout: float = 1.0) -> bool:
        try:
            return requests.get(f"{self.url}/api/v3/ping", headers=self.headers(),
                                timeout=timeout).status_code == 200
        except requests.RequestException:
            return False

    def status(self) -> dict[str, Any]:
        running = self.proc is not None and self.proc.poll() is None
        return {"pid": self.proc.pid if self.proc else None, "port": self.port, "url": self.url,
                "seed": self.seed, "running": running, "egress_checked": bool(self.token),
                "credentials": self.credentials,
                "healthy": running and self._pings(timeout=0.5)}


def make_part(ctx: CloudContext, invoker: Any) -> ExchangePart:
    info = ctx.resources.get(RESOURCE_KEY)
    if info is None:  # prepare() not run (a caller building parts by hand)
        prepare(ctx)
        info = ctx.resources[RESOURCE_KEY]
    return ExchangePart(ctx, info["port"], info["url"])
