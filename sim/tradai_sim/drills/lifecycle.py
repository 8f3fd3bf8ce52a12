"""The model lifecycle in a drill (``drift-retrain``): actions and invariants.

A model-driven champion (ModelProbability under a name of the drill run's own) is trained on the
exchange simulator's candles collected into ArcticDB, a dry-run session follows its ``champion``
alias, and a regime change is injected into the simulator (``POST /_admin/regime``). Then the
platform's own functions run as their schedules would run them (drift-monitor, then
retraining-scheduler), retraining runs are followed through the API
(``GET /api/v1/retraining``), an operator rolls back through ``POST .../rollback``, and the
session's version is read from its heartbeats (``GET /api/v1/trading/sessions/{id}``).

Why the change starts in the past: the drift monitor looks at the last 3 days of candles and the
challenger trains on the 14 days before the last 7. Under the drills' clock (10x) a change that
starts now would take days of wall time to fill those windows, so the change starts
``regime_days_ago`` days back: the simulator rewrites nothing before that instant, and the drill
collects candles after it only once the change is on. The champion trains on the days before it.

Method actions record what they saw in ``ctx.status_cache[STATE]`` and do not raise on an
outcome (a run kept instead of promoted, a session that does not swap): the invariants judge
those, so a failed drill names the invariant. Only a harness that cannot act raises.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tradai_sim.drills import extension, trading
from tradai_sim.drills.context import DrillContext, current
from tradai_sim.drills.invariants import Verdict, holds

Configuration = dict[str, Any]
STATE = "_lifecycle"
DRIFT_PREFIX = "DRIFT model "
RUN_TERMINAL = ("COMPLETED", "FAILED", "SKIPPED")
CALL_TIMEOUT_WALL_S = 60.0
DAY = timedelta(days=1)


def state(ctx: DrillContext) -> dict[str, Any]:
    return ctx.status_cache.setdefault(STATE, {})


def strategy_name(run_id: str) -> str:
    """A registered name of this drill run's own: the scheduler queues at most one run per
    strategy and day, and the drift state is per strategy, so a second run on the same stack
    (the same day) must not find the first one's."""
    return f"DriftProbability-{run_id}"


def windows(now: float, regime_days_ago: int, train_days: int) -> dict[str, datetime]:
    """The regime change's start (a UTC midnight ``regime_days_ago`` days back) and the
    champion's training window: ``train_days`` days ending a day before the change (that day
    is a margin: no candle the champion trains on is near the change)."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=regime_days_ago)
    end = since - DAY
    return {"today": today, "regime_since": since, "train_start": end - timedelta(
        days=train_days), "train_end": end}


def daily_volatility(closes: list[float], step_ms: int) -> float:
    """The standard deviation of a day's log return implied by candle-to-candle moves."""
    import numpy as np

    moves = np.diff(np.log(np.asarray(closes, dtype=float)))
    return float(moves.std() * np.sqrt(86_400_000 / step_ms))


def _timerange(start: datetime, end: datetime) -> str:
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


# -- plumbing -------------------------------------------------------------------------------------
def _invoke(ctx: DrillContext, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Invoke a function of the stack and wait for its answer (what its schedule would run)."""
    resp = _lambda(ctx).invoke(FunctionName=ctx.name(function),
                               Payload=json.dumps(payload).encode())
    raw = resp["Payload"].read() or b"{}"
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"raw": raw.decode(errors="replace")[:500]}
    if resp.get("FunctionError"):
        return {"error": resp["FunctionError"], "detail": body}
    return body if isinstance(body, dict) else {"result": body}


def _lambda(ctx: DrillContext) -> Any:
    """A Lambda client that waits as long as a function may run and never invokes twice (a
    read timeout retried by botocore would run the function again)."""
    import boto3
    from botocore.config import Config

    from tradai_sim.cloud.context import EMULATOR_CREDENTIALS

    config = Config(read_timeout=900, retries={"total_max_attempts": 1})
    if not ctx.local:
        return boto3.client("lambda", region_name=ctx.region, config=config)
    return boto3.client("lambda", endpoint_url=ctx.endpoint, region_name=ctx.region,
                        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        config=config)


def _mlflow_url(ctx: DrillContext) -> str:
    """The MLflow task's own URL (as the integration tests reach it), else the published one."""
    group = f"service:{ctx.name('mlflow')}"
    for task in ctx.control("/ecs/tasks")["tasks"]:
        if task["group"] == group and task["last_status"] == "RUNNING" and task.get("port"):
            return f"http://127.0.0.1:{task['port']}"
    return str(ctx.control("/status")["resources"]["endpoints"]["mlflow"])


def _adapter(ctx: DrillContext, with_configs: bool = False) -> Any:
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    store = ConfigStore(ctx.client("s3"), ctx.name("configs")) if with_configs else None
    return MLflowAdapter(_mlflow_url(ctx), store)


def champion_now(ctx: DrillContext, name: str) -> int | None:
    """Where the ``champion`` alias points in the registry now (MLflow itself, uncached)."""
    try:
        return int(_adapter(ctx).get_model_version(name, "champion").version)
    except Exception as exc:  # recorded by the caller as "unknown"
        ctx.notes.append(f"champion of {name} unreadable: {exc}")
        return None


def _operator_token(ctx: DrillContext) -> str:
    cached = state(ctx).get("_operator_token")
    if cached and cached[1] > time.time():
        return str(cached[0])
    if not ctx.local:
        token = os.environ["TRADAI_OPERATOR_TOKEN"]
    else:
        from tradai_sim.stack.identity import dev_user_token
        from tradai_sim.stack.state import StackRecord

        assert ctx.state_dir is not None
        rec = StackRecord.read(ctx.state_dir)
        assert rec is not None
        token = dev_user_token(rec, ctx.state_dir, role="operator")
    state(ctx)["_operator_token"] = (token, time.time() + 3000)  # tokens live an hour (wall)
    return token


def _api(ctx: DrillContext, method: str, path: str, body: dict[str, Any] | None = None,
         params: dict[str, str] | None = None) -> requests.Response:
    return requests.request(method, f"{ctx.api_url}/api/v1{path}", json=body, params=params,
                            headers={"Authorization": f"Bearer {_operator_token(ctx)}"},
                            timeout=CALL_TIMEOUT_WALL_S)


def runs_of(ctx: DrillContext, name: str) -> list[dict[str, Any]]:
    resp = _api(ctx, "GET", "/retraining", params={"strategy": name})
    resp.raise_for_status()
    return list(resp.json()["runs"])


def _exchange(ctx: DrillContext) -> str:
    return str(ctx.control("/status")["resources"]["endpoints"]["exchange"]).rstrip("/")


def _wait(ctx: DrillContext, probe: Any, timeout_s: float) -> Any:
    """``probe()``'s first truthy value within ``timeout_s`` simulated seconds, else None."""
    deadline = ctx.now() + timeout_s
    while True:
        value = probe()
        if value or ctx.now() > deadline:
            return value
        time.sleep(0.5)


def _iso_epoch(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


# -- actions --------------------------------------------------------------------------------------
def register_model_champion(pair: str = "BTC/USDT", timeframe: str = "5m",
                            regime_days_ago: int = 22, train_days: int = 14,
                            configuration: Configuration | None = None) -> dict[str, Any]:
    """Collect the champion's window into ArcticDB (data-collection-proxy, as the workflows
    collect), train ModelProbability on it and register it as v1 with the ``champion`` alias."""
    from tradai.data.settings import DataSettings
    from tradai.data.store import OhlcvStore
    from tradai.models.registration import register_model_version
    from tradai.models.training import TrainingWindow, train_from_store

    ctx = current(configuration)
    st = state(ctx)
    name = strategy_name(ctx.run_id)
    w = windows(ctx.now(), regime_days_ago, train_days)
    collected = _invoke(ctx, "data-collection-proxy", {
        "job_id": f"drill-{ctx.run_id}-champion", "pairs": [pair], "timeframe": timeframe,
        "timerange": _timerange(w["train_start"], w["train_end"]),
        "validation": {"strategy": {"warmup_days": 1, "timeframe": timeframe}}})
    if "error" in collected:
        raise RuntimeError(f"the champion's candles were not collected: {collected}")
    store = OhlcvStore.from_settings(DataSettings(
        AWS_ENDPOINT_URL=ctx.endpoint, AWS_DEFAULT_REGION=ctx.region,
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        TRADAI_BUCKET_ARCTICDB=ctx.name("arcticdb")))  # type: ignore[call-arg]
    step_ms = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}[timeframe]
    model = train_from_store(store, TrainingWindow(
        pair, timeframe, int(w["train_start"].timestamp() * 1000),
        int(w["train_end"].timestamp() * 1000) - step_ms))
    done = register_model_version(_adapter(ctx, with_configs=True), model, name=name,
                                  aliases=["champion"])
    version = int(done.version.version)
    closes = store.read(model.window.key, model.window.start_ms, model.window.end_ms)["close"]
    st.update(strategy=name, pair=pair, timeframe=timeframe, champion=version,
              regime_since=w["regime_since"].timestamp(), today=w["today"].timestamp(),
              reference=model.reference, step_ms=step_ms,
              champion_daily_vol=daily_volatility(list(closes), step_ms))
    ctx.event("action", f"{name} v{version} registered as champion: ModelProbability trained "
                        f"on {pair} {timeframe} {_timerange(w['train_start'], w['train_end'])}")
    return {"strategy": name, "version": version}


def start_model_session(label: str = "model", timeout_s: float = 1800.0,
                        configuration: Configuration | None = None) -> dict[str, Any]:
    """A dry-run session of the drill's strategy following ``champion`` (RUNNING)."""
    ctx = current(configuration)
    return extension.start_trading_session(label, state(ctx)["strategy"], "champion",
                                           "dry-run", timeout_s, configuration)


def inject_regime_change(volatility_multiple: float = 4.0, drift_per_day: float = -0.01,
                         configuration: Configuration | None = None) -> dict[str, Any]:
    """The exchange simulator's market changes regime (from a day after the champion's
    training window): every day's moves at ``volatility_multiple`` times the volatility the
    champion trained on (whatever the seeded regime of those days), with a drift. Relative to
    the champion, so the change is as large whichever weeks the drill runs on."""
    ctx = current(configuration)
    st = state(ctx)
    if not ctx.local:
        note = "regime change skipped on AWS: the real market is not the drill's to change"
        ctx.notes.append(note)
        return {"skipped": note}
    target = min(1.0, round(volatility_multiple * st["champion_daily_vol"], 6))
    body = {"since_ms": int(st["regime_since"] * 1000), "daily_volatility": target,
            "drift_per_day": drift_per_day}
    r = requests.post(f"{_exchange(ctx)}/_admin/regime", json=body, timeout=10)
    if r.status_code != 200:
        raise RuntimeError(f"the exchange refused the regime change: {r.status_code} {r.text}")
    started = ctx.now()
    st["regime"] = body
    ctx.faults.append({"template": "exchange-regime-change", "experiment_id": None,
                       "started_at": started})
    since = datetime.fromtimestamp(st["regime_since"], UTC)
    ctx.event("fault", f"exchange regime change since {since:%Y-%m-%d}: daily volatility "
                       f"{target:.4f} ({volatility_multiple:g}x the champion's "
                       f"{st['champion_daily_vol']:.4f}), drift {drift_per_day:+g}/day", started)
    return body


def collect_recent_candles(configuration: Configuration | None = None) -> dict[str, Any]:
    """The candles since the change (and a day before it) into ArcticDB, as the workflows'
    data-collection-proxy collects them: what the drift monitor reads."""
    ctx = current(configuration)
    st = state(ctx)
    start = datetime.fromtimestamp(st["regime_since"], UTC) - DAY
    today = datetime.fromtimestamp(ctx.now(), UTC).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    got = _invoke(ctx, "data-collection-proxy", {
        "job_id": f"drill-{ctx.run_id}-recent", "pairs": [st["pair"]],
        "timeframe": st["timeframe"], "timerange": _timerange(start, today)})
    if "error" in got:
        raise RuntimeError(f"the recent candles were not collected: {got}")
    st["collected_until_ms"] = int(today.timestamp() * 1000)
    ctx.event("action", f"candles of {st['pair']} since {start:%Y-%m-%d} collected")
    return got


def check_drift(times: int = 2, configuration: Configuration | None = None) -> dict[str, Any]:
    """drift-monitor, invoked ``times`` times as its schedule would (a second check of the same
    incident must not alert again), then the strategy's drift state as the API shows it."""
    ctx = current(configuration)
    st = state(ctx)
    ctx.mark("drift-checks")
    reports = [_invoke(ctx, "drift-monitor", {}) for _ in range(times)]
    resp = _api(ctx, "GET", f"/strategies/{st['strategy']}/drift")
    st["drift_reports"] = reports
    st["drift_state"] = resp.json() if resp.status_code == 200 else {
        "http_status": resp.status_code, "detail": resp.text[:300]}
    if ctx.local and "window_start_ms" in st["drift_state"]:
        st["control_psi"] = control_psi(ctx, st)
    mine = [r.get("psi", {}).get(st["strategy"]) for r in reports]
    ctx.event("activity", f"drift-monitor x{times}: {st['strategy']} "
                          f"{st['drift_state'].get('status')} (max PSI "
                          f"{st['drift_state'].get('max_psi')})")
    return {"state": st["drift_state"], "psi": mine}


def control_psi(ctx: DrillContext, st: dict[str, Any]) -> float | None:
    """The control: the largest feature PSI the monitor would have measured on the same
    window of the seeded market (no regime change), with the platform's own features and PSI
    on the simulator's own candles (a Market of the stack's seed)."""
    from tradai.models.drift import feature_drift
    from tradai.models.features import WARMUP_CANDLES, feature_columns
    from tradai_sim.exchange.market import Market

    try:
        seed = int(requests.get(f"{_exchange(ctx)}/_admin/health", timeout=10).json()["seed"])
        ds, step = st["drift_state"], int(st["step_ms"])
        start = int(ds["window_start_ms"])
        end = min(int(ds["window_end_ms"]), int(st.get("collected_until_ms") or 2**62) - step)
        first = start - WARMUP_CANDLES * step
        c = Market(seed, [st["pair"]]).candles(st["pair"], st["timeframe"], first,
                                               (end - first) // step + 1, end + step)
        feats = feature_columns(*(list(map(float, a)) for a in (c.high, c.low, c.close,
                                                                c.volume)))
        skip = int((start - first) // step)
        result = feature_drift(st["reference"], {k: v[skip:] for k, v in feats.items()},
                               0.25, min_count=100)
        return round(float(result.max_psi), 3)
    except Exception as exc:  # a control that cannot be computed is reported, not judged
        ctx.notes.append(f"control PSI not computed: {type(exc).__name__}: {exc}"[:300])
        return None


def run_scheduler(configuration: Configuration | None = None) -> dict[str, Any]:
    """retraining-scheduler, invoked as its daily schedule would."""
    ctx = current(configuration)
    st = state(ctx)
    ctx.mark("scheduler")
    st["schedule"] = _invoke(ctx, "retraining-scheduler", {})
    ctx.event("activity", f"retraining-scheduler: queued {st['schedule'].get('queued')}")
    return st["schedule"]


def set_function_env(function: str, variables: dict[str, str],
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """Set environment variables of one function (its earlier environment is put back by
    ``restore_function_envs``)."""
    ctx = current(configuration)
    st = state(ctx)
    lam = ctx.client("lambda")
    name = ctx.name(function)
    env = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get(
        "Variables", {})
    st.setdefault("env_before", {}).setdefault(function, dict(env))
    lam.update_function_configuration(FunctionName=name,
                                      Environment={"Variables": {**env, **variables}})
    # An update is applied asynchronously on AWS: wait until it has been.
    _wait(ctx, lambda: lam.get_function_configuration(FunctionName=name).get(
        "LastUpdateStatus", "Successful") != "InProgress", 300)
    ctx.event("activity", f"{function}: {variables}")
    return {"function": function, "set": variables}


def restore_function_envs(configuration: Configuration | None = None) -> list[str]:
    ctx = current(configuration)
    lam = ctx.client("lambda")
    done = []
    for function, env in state(ctx).get("env_before", {}).items():
        lam.update_function_configuration(FunctionName=ctx.name(function),
                                          Environment={"Variables": env})
        done.append(function)
    return done


def request_retraining(label: str, margin: float | None = None,
                       reason: str = "drill: a challenger that must not win",
                       configuration: Configuration | None = None) -> dict[str, Any]:
    """An operator queues a run now (``POST /api/v1/strategies/{name}/retrain``)."""
    ctx = current(configuration)
    st = state(ctx)
    body: dict[str, Any] = {"reason": reason}
    if margin is not None:
        body["margin"] = margin
    resp = _api(ctx, "POST", f"/strategies/{st['strategy']}/retrain", body)
    if resp.status_code != 202:
        raise RuntimeError(f"retrain refused: {resp.status_code} {resp.text[:300]}")
    st.setdefault("requested", {})[label] = resp.json()["run_id"]
    ctx.event("action", f"operator queued run {resp.json()['run_id']} ({label})")
    return dict(resp.json())


def wait_for_retraining(label: str, trigger: str | None = None, timeout_s: float = 3600.0,
                        configuration: Configuration | None = None) -> dict[str, Any]:
    """Until the run (``label``: the one the operator queued, or the newest with ``trigger``)
    ends; records it, where ``champion`` points then, and the alias's audit."""
    ctx = current(configuration)
    st = state(ctx)
    name = st["strategy"]
    run_id = st.get("requested", {}).get(label)

    def ended() -> dict[str, Any] | None:
        try:
            runs = runs_of(ctx, name)
        except requests.RequestException as exc:  # a busy gateway: look again
            ctx.notes.append(f"retraining runs unreadable once: {exc}"[:200])
            return None
        for run in runs:
            if (run["run_id"] == run_id if run_id else run.get("trigger") == trigger):
                return run if run["state"] in RUN_TERMINAL else None
        return None

    run = _wait(ctx, ended, timeout_s)
    seen = ctx.now()
    record: dict[str, Any] = {"run": run, "seen_at": seen, "champion_after": champion_now(
        ctx, name)}
    audit = _api(ctx, "GET", f"/strategies/{name}/audit")
    record["audit"] = audit.json().get("events", [])[:3] if audit.status_code == 200 else []
    st.setdefault("runs", {})[label] = record
    if run is None:
        ctx.event("activity", f"retraining run ({label}) did not end in {timeout_s:g} s")
    else:
        ctx.event("recovered" if run.get("decision") == "promoted" else "activity",
                  f"retraining run ({label}) {run['state']} {run.get('decision') or ''}: "
                  f"{run.get('reason') or ''}"[:200])
    return record


def rollback_as_operator(reason: str = "drill: back to the version before the promotion",
                         configuration: Configuration | None = None) -> dict[str, Any]:
    """``POST /api/v1/strategies/{name}/rollback`` as an operator."""
    ctx = current(configuration)
    st = state(ctx)
    resp = _api(ctx, "POST", f"/strategies/{st['strategy']}/rollback",
                {"alias": "champion", "reason": reason})
    at = ctx.now()
    try:
        body = resp.json()
    except ValueError:
        body = {"text": resp.text[:300]}
    st["rollback"] = {"status": resp.status_code, "body": body, "at": at,
                      "champion_after": champion_now(ctx, st["strategy"])}
    ctx.event("action", f"operator rollback: {resp.status_code} "
                        f"v{body.get('from_version')} -> v{body.get('to_version')}", at)
    return st["rollback"]


def wait_for_session_version(label: str, to: str, timeout_s: float = 900.0,
                             configuration: Configuration | None = None) -> dict[str, Any]:
    """Until the session's heartbeats name the version ``to`` is: ``promoted`` (the first
    run's challenger) or ``rolled-back`` (the version the rollback restored). Records the
    simulated seconds from the alias's move to the first heartbeat with it."""
    ctx = current(configuration)
    st = state(ctx)
    sid = ctx.sessions.get(label)
    # When the alias moved: its audit record's instant (platform clock), else the run's end.
    if to == "promoted":
        rec = st.get("runs", {}).get("scheduled") or {}
        run = rec.get("run") or {}
        target = run.get("challenger_version") if run.get("decision") == "promoted" else None
        audit = next((a for a in rec.get("audit") or [] if a.get("action") == "promote"
                      and a.get("to_version") == target), {})
        moved_at = _iso_epoch(audit.get("at")) or _iso_epoch(run.get("updated_at"))
    else:
        rb = st.get("rollback") or {}
        target = (rb.get("body") or {}).get("to_version") if rb.get("status") == 200 else None
        moved_at = _iso_epoch((rb.get("body") or {}).get("at")) or rb.get("at")
    record: dict[str, Any] = {"target": target, "moved_at": moved_at, "seen_at": None,
                              "version": None}
    if sid is not None and target is not None:
        def shows() -> dict[str, Any] | None:
            try:
                shown = trading.show(ctx, sid) or {}
            except requests.RequestException:
                return None
            record["version"], record["status"] = shown.get("version"), shown.get("status")
            return shown if shown.get("version") == target else None

        if _wait(ctx, shows, timeout_s):
            record["seen_at"] = ctx.now()
            ctx.event("recovered", f"session {sid} trades v{target} ({to})")
    st.setdefault("swaps", {})[to] = record
    return record


def clear_regime_change(configuration: Configuration | None = None) -> dict[str, Any]:
    """Rollback: the simulator's market back to its seeded path."""
    ctx = current(configuration)
    if not ctx.local:
        return {"skipped": "not local"}
    r = requests.delete(f"{_exchange(ctx)}/_admin/regime", timeout=10)
    return {"status": r.status_code}


def retire_model_strategy(configuration: Configuration | None = None) -> dict[str, Any]:
    """Rollback: the drill's strategy loses its ``champion`` alias, so the scheduled monitor and
    scheduler leave it alone afterwards (a retraining run queued later would start tasks while
    the next drill on the same stack counts them)."""
    ctx = current(configuration)
    name = state(ctx).get("strategy")
    if not name:
        return {"skipped": "no strategy registered"}
    try:
        _adapter(ctx).client.delete_registered_model_alias(name, "champion")
    except Exception as exc:
        ctx.notes.append(f"champion alias of {name} not removed: {exc}"[:300])
        return {"error": str(exc)[:300]}
    return {"retired": name}


def stop_model_session(configuration: Configuration | None = None) -> dict[str, int]:
    return extension.stop_trading_sessions(configuration)


# -- invariants -----------------------------------------------------------------------------------
def _pending(name: str, what: str) -> dict[str, Any]:
    return holds(name, True, None, f"{what} not yet", phase="skipped").as_dict()


def drift_raised(threshold: float = 0.25,
                 configuration: Configuration | None = None) -> dict[str, Any]:
    """After the change, drift-monitor marked the champion DRIFTING with its PSI over the
    threshold (the state as the API showed it after the checks)."""
    ctx = current(configuration)
    st = state(ctx)
    name = "drift-raised"
    if "drift_state" not in st:
        return _pending(name, "drift check")
    ds = st["drift_state"]
    psi = ds.get("max_psi")
    control = st.get("control_psi")
    ok = (ds.get("status") == "DRIFTING" and psi is not None and float(psi) > threshold
          and ds.get("version") == st.get("champion")
          and (control is None or float(psi) > control))
    return holds(name, ok, None if psi is None else round(float(psi), 3),
                 f"{st['strategy']} v{ds.get('version')} {ds.get('status')}, max PSI on "
                 f"{ds.get('max_feature')} (threshold {threshold:g}; the same window of the "
                 f"seeded market, no change: {control})"
                 + ("" if ok else f"; state {json.dumps(ds, default=str)[:300]}"),
                 unit="PSI").as_dict()


def drift_alert_once(configuration: Configuration | None = None) -> dict[str, Any]:
    """Exactly one drift alert for the champion between the change and the retraining (two
    checks of one incident: one alert)."""
    ctx = current(configuration)
    st = state(ctx)
    name = "one-drift-alert"
    if "drift_state" not in st:
        return _pending(name, "drift check")
    prefix = f"{DRIFT_PREFIX}{st['strategy']} v{st['champion']}:"
    until = ctx.marks.get("scheduler", ctx.now())
    published = ctx.control(f"/sns/published?since={ctx.started_at}").get("messages", [])
    found = [m for m in published if (m.get("subject") or "").startswith(prefix)
             and float(m["simulated_time"]) <= until]
    return holds(name, len(found) == 1, len(found),
                 f"{len(found)} alert(s) '{prefix}...' from "
                 f"{len(st.get('drift_reports', []))} checks", unit="alerts").as_dict()


def retraining_queued(configuration: Configuration | None = None) -> dict[str, Any]:
    """retraining-scheduler queued a run for the drifting champion (trigger drift)."""
    ctx = current(configuration)
    st = state(ctx)
    name = "retraining-queued-for-drift"
    if "schedule" not in st:
        return _pending(name, "retraining schedule")
    sched = st["schedule"]
    run = (st.get("runs", {}).get("scheduled") or {}).get("run") or {}
    listed = st["strategy"] in (sched.get("queued", []) + sched.get("already", []))
    ok = listed and run.get("trigger") == "drift" and run.get("champion_version") == st[
        "champion"]
    return holds(name, ok, 1 if ok else 0,
                 f"scheduler: {json.dumps(sched, default=str)[:200]}; run "
                 f"{run.get('run_id')} trigger {run.get('trigger')}", unit="runs").as_dict()


def challenger_promoted(configuration: Configuration | None = None) -> dict[str, Any]:
    """The drift run trained a challenger, compared it through two backtests and promoted it:
    COMPLETED/promoted, the ``champion`` alias on the challenger, audited as the workflow."""
    ctx = current(configuration)
    st = state(ctx)
    name = "challenger-promoted"
    rec = st.get("runs", {}).get("scheduled")
    if rec is None:
        return _pending(name, "retraining run")
    run = rec.get("run") or {}
    chal = run.get("challenger_version")
    audit = (rec.get("audit") or [{}])[0]
    ok = (run.get("state") == "COMPLETED" and run.get("decision") == "promoted"
          and chal is not None and chal != st["champion"] and rec.get("champion_after") == chal
          and bool(run.get("champion_job")) and bool(run.get("challenger_job"))
          and (audit.get("action"), audit.get("to_version"), audit.get("actor"))
          == ("promote", chal, "retraining-workflow"))
    took = None
    if run.get("updated_at") and st.get("schedule") is not None:
        took = round(_iso_epoch(run["updated_at"]) - ctx.marks["scheduler"], 1)  # type: ignore
    detail = (f"run {run.get('run_id')} {run.get('state')} {run.get('decision')}: "
              f"{run.get('reason')}; v{run.get('champion_version')} -> v{chal}; champion now "
              f"v{rec.get('champion_after')}; profit_total champion "
              f"{(run.get('champion_metrics') or {}).get('profit_total')}, challenger "
              f"{(run.get('challenger_metrics') or {}).get('profit_total')}")
    return holds(name, ok, took, detail, unit="s").as_dict()


def session_follows(to: str, deadline_s: float = 600.0, label: str = "model",
                    configuration: Configuration | None = None) -> dict[str, Any]:
    """The dry-run session trades the version the alias moved to (its heartbeats say so),
    within ``deadline_s`` simulated seconds of the move."""
    ctx = current(configuration)
    st = state(ctx)
    name = f"session-follows-{to}"
    rec = st.get("swaps", {}).get(to)
    if rec is None:
        return _pending(name, f"{to} version")
    took = None
    if rec.get("seen_at") is not None and rec.get("moved_at") is not None:
        took = round(rec["seen_at"] - rec["moved_at"], 1)
    ok = took is not None and took <= deadline_s
    detail = (f"session {ctx.sessions.get(label)} heartbeats name v{rec.get('version')} "
              f"(expected v{rec.get('target')}, status {rec.get('status')})")
    return Verdict(name, ok, took, "s", deadline_s, detail, "recovery").as_dict()


def worse_challenger_kept(configuration: Configuration | None = None) -> dict[str, Any]:
    """A challenger trained on a window too short to learn from, asked to beat the champion
    by a margin it cannot meet, is not promoted: a new version, the run COMPLETED and kept
    with the reason, the ``champion`` alias and the session untouched."""
    ctx = current(configuration)
    st = state(ctx)
    name = "worse-challenger-kept"
    rec = st.get("runs", {}).get("worse")
    if rec is None:
        return _pending(name, "second retraining run")
    run = rec.get("run") or {}
    promoted = ((st.get("runs", {}).get("scheduled") or {}).get("run") or {}).get(
        "challenger_version")
    chal = run.get("challenger_version")
    ok = (run.get("state") == "COMPLETED" and run.get("decision") == "kept"
          and bool(run.get("reason")) and chal is not None and chal not in (promoted,
                                                                          st["champion"])
          and promoted is not None and rec.get("champion_after") == promoted
          and run.get("champion_version") == promoted)
    return holds(name, ok, chal,
                 f"run {run.get('run_id')} {run.get('state')} {run.get('decision')}: "
                 f"{run.get('reason')}; challenger v{chal}, champion stays "
                 f"v{rec.get('champion_after')} (was v{promoted})", unit="version").as_dict()


def rollback_restores(configuration: Configuration | None = None) -> dict[str, Any]:
    """An operator's rollback returns ``champion`` to the version before the promotion, with
    an audit record naming the operator."""
    ctx = current(configuration)
    st = state(ctx)
    name = "rollback-restores-previous"
    rb = st.get("rollback")
    if rb is None:
        return _pending(name, "rollback")
    body = rb.get("body") or {}
    promoted = ((st.get("runs", {}).get("scheduled") or {}).get("run") or {}).get(
        "challenger_version")
    ok = (rb.get("status") == 200 and body.get("action") == "rollback"
          and body.get("from_version") == promoted and body.get("to_version") == st["champion"]
          and rb.get("champion_after") == st["champion"] and "operator" in (body.get("roles")
                                                                             or []))
    return holds(name, ok, body.get("to_version"),
                 f"HTTP {rb.get('status')}: {body.get('action')} v{body.get('from_version')} "
                 f"-> v{body.get('to_version')} by {body.get('actor_name') or body.get('actor')}"
                 f" {body.get('roles')}; champion now "
                 f"v{rb.get('champion_after')}", unit="version").as_dict()


def session_running(label: str = "model", max_age_s: float = 60.0, settle_s: float = 180.0,
                    configuration: Configuration | None = None) -> dict[str, Any]:
    """The dry-run session is RUNNING with a heartbeat at most ``max_age_s`` old. A session
    marked STALE during a slow swap shows STALE until trading-heartbeat-check's next check
    after its heartbeats resume, so it gets ``settle_s`` simulated seconds to say RUNNING."""
    ctx = current(configuration)
    name = f"{label}-session-running"
    sid = ctx.sessions.get(label)
    if sid is None:
        return _pending(name, "session")
    seen: list[str] = []

    def fresh() -> dict[str, Any] | None:
        try:
            shown = trading.show(ctx, sid) or {}
        except requests.RequestException:
            return None
        seen.append(str(shown.get("status")))
        age = shown.get("heartbeat_age_seconds")
        ok = shown.get("status") == "RUNNING" and age is not None and float(age) <= max_age_s
        return shown if ok else None

    shown = _wait(ctx, fresh, settle_s) or {}
    age = shown.get("heartbeat_age_seconds")
    was = sorted(set(seen) - {"RUNNING"})
    return Verdict(name, bool(shown), None if age is None else round(float(age), 1), "s",
                   max_age_s, f"session {sid} {seen[-1] if seen else '?'}, v{shown.get('version')}"
                   f", {shown.get('open_trades')} open trade(s)"
                   + (f"; seen {', '.join(was)} on the way" if was else ""),
                   "recovery").as_dict()
