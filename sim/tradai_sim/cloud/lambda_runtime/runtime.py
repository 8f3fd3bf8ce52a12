"""Runs invocations of the real handlers in warm execution environments (worker processes).

As in AWS: one invocation at a time per environment, a new environment (cold start) when all
are busy, up to the function's concurrency; past that the invocation is throttled. A function
that exceeds its timeout has its environment killed and reports ``Task timed out``; an
environment that dies reports ``Runtime.ExitError``. Timeouts are wall seconds: handler work
does not get faster when the clock is dilated.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import select
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.protocol import (
    IN_FD_ENV,
    INIT_LIMIT_SECONDS,
    OUT_FD_ENV,
    READY_LINE,
    Invocation,
    Outcome,
    error_payload,
)

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 10  # per function, locally; AWS's account default is 1000
IDLE_RETIRE_SECONDS = 600.0


RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


class Throttled(Exception):
    """No execution environment is free and the function is at its concurrency limit.

    ``reason`` is the Reason member of AWS's TooManyRequestsException: the function's reserved
    concurrency, or (no reservation) the account's unreserved pool, here the local default.
    """

    def __init__(self, message: str, reason: str = RESERVED_LIMIT) -> None:
        super().__init__(message)
        self.reason = reason


class NoSubnetAvailable(Exception):
    """An in-VPC function whose subnets are all in unavailable AZs: no environment can start."""


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    arn: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    code: bytes
    code_sha: str
    reserved_concurrency: int | None = None
    subnets: tuple[str, ...] = ()  # VpcConfig.SubnetIds; empty: not in a VPC
    role: str = ""
    # Asynchronous invocation (PutFunctionEventInvokeConfig, DeadLetterConfig); AWS defaults.
    max_retry_attempts: int = 2
    max_event_age: int = 21600  # seconds (simulated: waiting in the event queue)
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None

    @property
    def key(self) -> str:
        """Environments are reused only for the same code and configuration."""
        h = hashlib.sha256()
        h.update(json.dumps([self.handler, self.timeout, self.memory, self.environment,
                             self.subnets, self.role], sort_keys=True).encode())
        h.update(self.code_sha.encode())
        return f"{self.name}:{h.hexdigest()[:16]}"


class ExecutionEnvironment:
    def __init__(self, fn: FunctionConfig, code_dir: Path | None, ctx: CloudContext,
                 subnet: str | None = None, az: str | None = None) -> None:
        self.fn = fn
        self.subnet = subnet  # where its network interface lives (in-VPC functions)
        self.az = az
        self.busy = False
        self.last_used = time.time()
        req_r, self._req_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        log_path = ctx.log_dir / f"lambda-{fn.name}.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the environment
        # The runtime image's paths and locale, not the shell that started the stack (IMAGE_ENV).
        env = ctx.child_env(fn.environment, image=True)
        env.update(ctx.role_env(fn.role, fn.name))  # the execution role's credentials
        network = ctx.resources.get("_network")
        if network is not None:  # its subnet's view of the network (None: outside the VPC)
            env = network.localize(env, subnet)
        env.update(
            {
                "_HANDLER": fn.handler,
                "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
                "TRADAI_LAMBDA_FUNCTION_ARN": fn.arn,
                "TRADAI_LAMBDA_LOG_STREAM": uuid.uuid4().hex,
                IN_FD_ENV: str(req_r),
                OUT_FD_ENV: str(rep_w),
            }
        )
        if code_dir is not None:
            env["LAMBDA_TASK_ROOT"] = str(code_dir)
        self.proc = subprocess.Popen(
            [ctx.python(), "-m", "tradai_sim.cloud.lambda_runtime.worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(req_r, rep_w),
            start_new_session=True,  # its own process group, so a kill takes its children
        )
        ctx.register_child(self.proc.pid)
        os.close(req_r)
        os.close(rep_w)
        self._buffer = b""
        self._spawned_at = time.time()
        self._initialized = False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _await_init(self) -> None:
        """Wait for the worker's Init phase (its handler imported) up to AWS's 10 s Init limit
        from its start; the function's timeout starts after it (or after the limit, when Init
        goes on within the invocation, as on AWS)."""
        while not self._initialized:
            if READY_LINE in self._buffer:
                self._buffer = self._buffer.replace(READY_LINE, b"", 1)
                self._initialized = True
                return
            remaining = self._spawned_at + INIT_LIMIT_SECONDS - time.time()
            if remaining <= 0:
                return
            ready, _, _ = select.select([self._rep_r], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(self._rep_r, 65536)
                if not chunk:
                    return  # it died: the invocation reports the exit
                self._buffer += chunk

    def invoke(self, event: Any, request_id: str) -> Outcome:
        self._await_init()
        deadline = time.time() + self.fn.timeout
        started = time.perf_counter()
        try:
            os.write(self._req_w, Invocation(request_id, event, deadline).encode())
        except BrokenPipeError:
            return self._exited(started)
        while True:
            while b"\n" not in self._buffer:
                remaining = deadline - time.time()
                if remaining <= 0:
                    self.kill()
                    msg = f"Task timed out after {self.fn.timeout:.2f} seconds"
                    return Outcome(error_payload("Sandbox.Timedout", msg), error=True,
                                   duration_ms=(time.perf_counter() - started) * 1000)
                ready, _, _ = select.select([self._rep_r], [], [], min(remaining, 0.5))
                if ready:
                    chunk = os.read(self._rep_r, 65536)
                    if not chunk:
                        return self._exited(started)
                    self._buffer += chunk
            line, _, self._buffer = self._buffer.partition(b"\n")
            if line + b"\n" != READY_LINE:
                break
            self._initialized = True  # Init ended within this invocation (past 10 s)
        reply = json.loads(line)
        self.last_used = time.time()
        return Outcome(reply["payload"], reply["error"], duration_ms=reply["duration_ms"])

    def _exited(self, started: float) -> Outcome:
        self.kill()
        code = self.proc.returncode
        return Outcome(
            error_payload("Runtime.ExitError", f"RequestId: Error: Runtime exited with {code}"),
            error=True,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for fd in (self._req_w, self._rep_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()


class LambdaRuntime:
    name = "lambda"

    def __init__(self, ctx: CloudContext, default_concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.ctx = ctx
        self.default_concurrency = default_concurrency
        self._envs: dict[str, list[ExecutionEnvironment]] = {}
        self._lock = threading.Lock()
        self._code_dirs: dict[str, Path | None] = {}
        self._zones: dict[str, str | None] = {}
        self.invocations = 0
        self.cold_starts = 0
        self.errors = 0
        self.throttles = 0

    # -- Part ---------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._retire_idle, name="lambda-reaper", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            envs = [e for group in self._envs.values() for e in group]
            self._envs.clear()
        for env in envs:
            env.kill()

    def status(self) -> dict[str, Any]:
        with self._lock:
            warm = {k.split(":")[0]: len(v) for k, v in self._envs.items() if v}
            envs = [{"function": e.fn.name, "pid": e.proc.pid, "subnet": e.subnet, "az": e.az,
                     "busy": e.busy} for g in self._envs.values() for e in g if e.alive]
        return {
            "environments": envs,
            "invocations": self.invocations,
            "cold_starts": self.cold_starts,
            "errors": self.errors,
            "throttles": self.throttles,
            "warm_environments": warm,
        }

    def pids(self) -> list[int]:
        with self._lock:
            return [e.proc.pid for group in self._envs.values() for e in group if e.alive]

    # -- invocation -----------------------------------------------------------------------
    def invoke(self, fn: FunctionConfig, event: Any, request_id: str | None = None) -> Outcome:
        env = self._acquire(fn)
        rid = request_id or str(uuid.uuid4())
        try:
            outcome = env.invoke(event, rid)
        finally:
            with self._lock:
                env.busy = False
                if not env.alive:
                    group = self._envs.get(fn.key, [])
                    if env in group:
                        group.remove(env)
            self.invocations += 1
        if outcome.error:
            self.errors += 1
        return outcome

    def concurrency_limit(self, fn: FunctionConfig) -> int:
        """Reserved concurrency when set (0 included: every invocation throttles), else the
        local stand-in for the account's unreserved pool."""
        if fn.reserved_concurrency is not None:
            return fn.reserved_concurrency
        return self.default_concurrency

    def _acquire(self, fn: FunctionConfig) -> ExecutionEnvironment:
        limit = self.concurrency_limit(fn)
        with self._lock:
            # Configuration changed: environments of the old version retire.
            for key in [k for k in self._envs if k.startswith(fn.name + ":") and k != fn.key]:
                for old in self._envs.pop(key):
                    if not old.busy:
                        old.kill()
            group = self._envs.setdefault(fn.key, [])
            # Checked before reusing a warm environment: a limit lowered (to 0, say) below
            # the warm count still throttles.
            if sum(1 for e in group if e.busy) >= limit:
                self.throttles += 1
                reason = RESERVED_LIMIT if fn.reserved_concurrency is not None else ACCOUNT_LIMIT
                raise Throttled("Rate Exceeded.", reason)
            for env in group:
                if not env.busy and env.alive:
                    env.busy = True
                    return env
            subnet, az = self._place(fn, group)
            code_dir = self._code_dir(fn)
            env = ExecutionEnvironment(fn, code_dir, self.ctx, subnet, az)
            env.busy = True
            group.append(env)
            self.cold_starts += 1
            return env

    def _place(self, fn: FunctionConfig,
               group: list[ExecutionEnvironment]) -> tuple[str | None, str | None]:
        """Lambda spreads a VPC function's environments over the AZs of its subnets, and uses
        only subnets of available AZs."""
        if not fn.subnets:
            return None, None
        zones = self.ctx.resources.get("_zones")
        down = zones.unavailable_azs() if zones is not None else set()
        usable = [(s, self._zone_of(s)) for s in fn.subnets]
        usable = [(s, z) for s, z in usable if z not in down]
        if not usable:
            raise NoSubnetAvailable(
                f"Lambda could not create a network interface for {fn.name}: every subnet of "
                f"its VPC configuration is in an unavailable Availability Zone "
                f"({', '.join(sorted(down))})")
        load = Counter(e.az for e in group if e.alive)
        return min(usable, key=lambda sz: load[sz[1]])

    def _zone_of(self, subnet: str) -> str | None:
        if subnet not in self._zones:
            from moto.ec2.models import ec2_backends

            ec2 = ec2_backends[self.ctx.account_id][self.ctx.region]
            self._zones[subnet] = str(ec2.get_subnet(subnet).availability_zone)
        return self._zones[subnet]

    def kill_in_az(self, az: str) -> int:
        """An AZ lost power: its environments die (in-flight invocations end in
        ``Runtime.ExitError``); returns how many."""
        with self._lock:
            doomed = [e for g in self._envs.values() for e in g if e.az == az and e.alive]
            for group in self._envs.values():
                group[:] = [e for e in group if e not in doomed or e.busy]
        for env in doomed:
            if env.busy:  # its invocation sees the runtime exit and cleans up after it
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(env.proc.pid, signal.SIGKILL)
            else:
                env.kill()
        return len(doomed)

    def _code_dir(self, fn: FunctionConfig) -> Path | None:
        """Unpack the function's deployment package once per code version."""
        if fn.code_sha in self._code_dirs:
            return self._code_dirs[fn.code_sha]
        target: Path | None = None
        if fn.code:
            target = self.ctx.state_dir / "lambda-code" / f"{fn.name}-{fn.code_sha[:16]}"
            if not target.exists():
                target.mkdir(parents=True)
                with zipfile.ZipFile(io.BytesIO(fn.code)) as zf:
                    zf.extractall(target)
        self._code_dirs[fn.code_sha] = target
        return target

    def _retire_idle(self) -> None:
        while not self.ctx.stopping.wait(5.0):
            cutoff = time.time() - IDLE_RETIRE_SECONDS
            with self._lock:
                for group in self._envs.values():
                    for env in [e for e in group if not e.busy and e.last_used < cutoff]:
                        group.remove(env)
                        env.kill()
