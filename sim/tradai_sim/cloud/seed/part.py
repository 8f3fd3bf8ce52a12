"""The seed part: waits (in the background) for MLflow, publishes its URL, then registers the
example strategies with the platform's own ``tradai.registry.seed``.

The cloud does not wait for it: MLflow takes 10-30 s to start. Progress is in ``status()``.
The seed's process (``runner.py``) starts with the part, so its imports and preparation
overlap MLflow's start; once MLflow is healthy only its MLflow and S3 calls remain. A retry
starts a fresh one.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from typing import Any

from tradai.registry.credentials import AUTH_SECRET
from tradai.topology.runtime_config import AUTH_SECRET_ENV
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.seed.mlflow_task import healthy, task_urls

log = logging.getLogger(__name__)

# MLflow's first start creates its tables (about 50 migrations); on PostgreSQL on a loaded
# 2-core machine that was measured at over 3 minutes. Slowness is not failure: wait long.
MLFLOW_WAIT_SECONDS = 900.0
SEED_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.2  # a health GET to a local task: cheap, and the seed waits on it
DATA_DIR_ENV = "TRADAI_MLFLOW_DATA_DIR"  # tradai.services.mlflow_server.settings
WATCH_SECONDS = 2.0  # how often the published task URL is refreshed after a task restart
SEED_ATTEMPTS = 3  # the seed is idempotent: a request lost to a busy or restarting task is retried
RETRY_PAUSE_SECONDS = 3.0
RUNNER_MODULE = "tradai_sim.cloud.seed.runner"


def prepare(ctx: CloudContext) -> None:
    """Before the bootstrap: MLflow's SQLite store outlives any one task (a restarted task
    finds the registry where the previous one left it). MLflow's service is told where it is
    (``service_env``, where the FIS MLflow actions read it too). Which secret holds an MLflow
    login each component learns from the spec, as on AWS (``runtime_config``)."""
    data_dir = ctx.state_dir / "mlflow"
    data_dir.mkdir(parents=True, exist_ok=True)
    ctx.resources.setdefault("service_env", {}).setdefault("mlflow", {})[DATA_DIR_ENV] = \
        str(data_dir)


def spawn_runner(ctx: CloudContext) -> subprocess.Popen[bytes]:
    """The seed's process, importing and preparing until it is told where MLflow is."""
    env = ctx.child_env({
        AUTH_SECRET_ENV: ctx.name(AUTH_SECRET),
        # The server is known healthy when it is told: fail fast rather than retry for minutes.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    })
    with (ctx.log_dir / "seed.log").open("ab") as log_file:
        proc = subprocess.Popen(
            [ctx.python(), "-m", RUNNER_MODULE], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log_file, start_new_session=True)
    ctx.register_child(proc.pid)
    return proc


class SeedPart:
    name = "seed"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.state = "waiting"
        self.mlflow_url: str | None = None
        self.registered: list[dict[str, Any]] = []
        self.error: str | None = None
        self.seconds: float | None = None
        self._published: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._runner: subprocess.Popen[bytes] | None = None  # prepared, not yet told to seed
        self._thread = threading.Thread(target=self._run, name="seed", daemon=True)

    def start(self) -> None:
        self._runner = spawn_runner(self.ctx)
        self._thread.start()

    def stop(self) -> None:
        for proc in (self._proc, self._runner):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self._thread.join(timeout=2)

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "mlflow_url": self.mlflow_url,
                "registered": self.registered, "error": self.error, "seconds": self.seconds}

    # -- the background work ----------------------------------------------------------------
    def _run(self) -> None:
        started = time.time()
        try:
            url = self._wait_for_mlflow()
            if url is None:
                return
            stable = self._stable_url()
            if stable is None or healthy(stable):
                self.mlflow_url = stable or url
            self.state = "seeding"
            self.registered = self._seed_with_retries(url)
            # Done once clients can use it too: through the edge, where it routes.
            self.mlflow_url = self._wait_for_stable() or url
            self.state = "done"
        except Exception as exc:
            log.exception("seeding failed")
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds = round(time.time() - started, 2)
        self._watch()

    def _wait_for_mlflow(self) -> str | None:
        """The URL to seed through as soon as MLflow answers: a healthy task's own (the ALB
        routes to it only once its next health checks passed), else the edge's stable URL."""
        deadline = time.time() + MLFLOW_WAIT_SECONDS
        while not self.ctx.stopping.is_set():
            url = next((u for u in task_urls(self.ctx) if healthy(u)), None)
            stable = self._stable_url()
            if url is None and stable and healthy(stable):
                url = stable
            if url:
                self._publish()
                return url
            if time.time() > deadline:
                self.state = "failed"
                self.error = f"MLflow not healthy within {MLFLOW_WAIT_SECONDS:.0f} s"
                return None
            self.ctx.stopping.wait(POLL_SECONDS)
        return None

    def _wait_for_stable(self) -> str | None:
        """The edge's stable URL once it routes to a healthy task (None: no edge)."""
        stable = self._stable_url()
        deadline = time.time() + MLFLOW_WAIT_SECONDS
        while stable and not healthy(stable):
            if time.time() > deadline or self.ctx.stopping.wait(POLL_SECONDS):
                raise RuntimeError(f"MLflow not reachable through the edge ({stable})")
        return stable

    def _stable_url(self) -> str | None:
        """The URL the edge publishes for tasks (routes to a healthy task), once it exists."""
        url = self.ctx.resources.get("task_env", {}).get("TRADAI_MLFLOW_URL")
        return str(url).rstrip("/") if url else None

    def _current_url(self) -> str | None:
        """The edge's stable URL, else the first running MLflow task's."""
        return self._stable_url() or next(iter(task_urls(self.ctx)), None)

    def _publish(self) -> None:
        """``endpoints.mlflow`` for ``tradai-sim status``, unless the edge set it."""
        endpoints = self.ctx.resources.get("endpoints", {})
        current = endpoints.get("mlflow")
        if current is not None and current != self._published:
            return
        url = self._current_url()
        if url and url != current:
            self.ctx.publish_endpoint("mlflow", url)
            self._published = url

    def _watch(self) -> None:
        while not self.ctx.stopping.wait(WATCH_SECONDS):
            try:
                self._publish()
            except Exception:
                log.exception("refreshing the MLflow endpoint failed")

    def _seed_with_retries(self, url: str) -> list[dict[str, Any]]:
        for attempt in range(1, SEED_ATTEMPTS + 1):
            try:
                return self._seed(url)
            except RuntimeError as exc:
                if attempt == SEED_ATTEMPTS or self.ctx.stopping.is_set():
                    raise RuntimeError(f"{exc} (attempt {attempt} of {SEED_ATTEMPTS})") from None
                log.warning("seeding attempt %d failed (%s); retrying", attempt, exc)
                self.ctx.stopping.wait(RETRY_PAUSE_SECONDS)
                # a replaced MLflow task has a new address
                url = self._current_url() or url
        raise AssertionError("unreachable")

    def _seed(self, url: str) -> list[dict[str, Any]]:
        log_path = self.ctx.log_dir / "seed.log"
        # The runner prepared since the part started; a retry starts a fresh one.
        proc = self._proc = self._runner or spawn_runner(self.ctx)
        self._runner = None
        go = {"TRADAI_MLFLOW_URL": url,
              "TRADAI_BUCKET_CONFIGS": self.ctx.resources["buckets"]["configs"]}
        try:
            out, _ = proc.communicate((json.dumps(go) + "\n").encode(),
                                      timeout=SEED_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"seeding took over {SEED_TIMEOUT_SECONDS:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"tradai.registry.seed exited {proc.returncode}; see {log_path}")
        last = out.decode().strip().splitlines()[-1]
        return list(json.loads(last)["results"])


def make_part(ctx: CloudContext, invoker: Any) -> SeedPart:
    return SeedPart(ctx)
