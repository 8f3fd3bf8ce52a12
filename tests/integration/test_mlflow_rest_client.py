"""A strategy task talks to MLflow over REST (``tradai.registry.rest_client``), not through
``mlflow``'s client: against the stack's MLflow (basic auth, artifacts served from S3) it must
resolve, fetch and record exactly what ``MlflowClient`` does."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud
from tests.integration.test_mlflow_auth import as_a_task  # noqa: F401
from tests.integration.test_mlflow_registry import config, mlflow_url, seeded  # noqa: F401
from tradai.registry import credentials
from tradai.registry.adapter import ARTIFACT_DIR, MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import RegistryUnavailable, StrategyNotFound
from tradai.registry.rest_client import MlflowRestError
from tradai.strategy_container.errors import DependencyFailed
from tradai.strategy_container.results import MlflowRecorder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def adapters(cloud: RunningCloud, mlflow_url: str  # noqa: F811
             ) -> tuple[MLflowAdapter, MLflowAdapter]:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    store = ConfigStore(cloud.client("s3"), cloud.name("configs"))
    return MLflowAdapter(mlflow_url, store), MLflowAdapter(mlflow_url, store, rest=True)


@pytest.fixture(scope="module")
def registered(adapters: tuple[MLflowAdapter, MLflowAdapter], tmp_path_factory: Any
               ) -> str:
    """A strategy with two versions, source code and a nested model folder (as a
    model-driven version carries)."""
    full, _ = adapters
    name = f"rest-{uuid.uuid4().hex[:8]}"
    model = tmp_path_factory.mktemp("model")
    (model / "weights.json").write_text('{"w": [1, 2, 3]}')
    (model / "meta").mkdir()
    (model / "meta" / "info.txt").write_text("trained on 90 days\n")
    full.register_version(name, "EmaCrossover", config(["BTC/USDT"]), warmup_days=3,
                          source_code="# version one\n", aliases=["champion"],
                          extra_artifacts={"model": model})
    full.register_version(name, "EmaCrossover", config(["BTC/USDT", "ETH/USDT"]),
                          source_code="# version two\n")
    return name


@pytest.mark.parametrize("ref", ["champion", "1", 2, "latest"])
def test_a_version_resolves_as_mlflows_client_resolves_it(
        adapters: tuple[MLflowAdapter, MLflowAdapter], registered: str, ref: str | int) -> None:
    full, rest = adapters
    expected = full.get_model_version(registered, ref)
    got = rest.get_model_version(registered, ref)
    assert got == expected
    assert got.run_id and got.config_s3_path.endswith(f"/v{got.version}/config.json")
    assert rest.load_config(got) == full.load_config(expected)


def test_missing_things_are_named_as_with_mlflows_client(
        adapters: tuple[MLflowAdapter, MLflowAdapter], registered: str) -> None:
    _, rest = adapters
    with pytest.raises(StrategyNotFound, match="strategy 'NoSuchStrategy' not found"):
        rest.get_model_version("NoSuchStrategy", "champion")
    with pytest.raises(StrategyNotFound, match="has no alias 'nonexistent'"):
        rest.get_model_version(registered, "nonexistent")
    with pytest.raises(StrategyNotFound, match="has no version 999"):
        rest.get_model_version(registered, 999)


def test_the_strategy_folder_downloads_as_with_mlflows_client(
        adapters: tuple[MLflowAdapter, MLflowAdapter], registered: str, tmp_path: Path) -> None:
    full, rest = adapters
    version = full.get_model_version(registered, "champion")
    a = Path(full.client.download_artifacts(version.run_id, ARTIFACT_DIR, str(tmp_path / "a")))
    b = Path(rest.client.download_artifacts(version.run_id, ARTIFACT_DIR, str(tmp_path / "b")))
    assert b == tmp_path / "b" / ARTIFACT_DIR
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == ["EmaCrossover.py", "config.json", "model/meta/info.txt",
                     "model/weights.json"]
    assert sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()) == files
    for f in files:
        assert filecmp.cmp(a / f, b / f, shallow=False), f
    assert (b / "EmaCrossover.py").read_text() == "# version one\n"
    # One file, as MlflowClient fetches one: its path under the destination.
    one = Path(rest.client.download_artifacts(version.run_id, f"{ARTIFACT_DIR}/config.json",
                                              str(tmp_path / "c")))
    assert one == tmp_path / "c" / ARTIFACT_DIR / "config.json"
    assert one.read_bytes() == (a / "config.json").read_bytes()


def test_a_task_records_its_run_as_mlflows_client_reads_it(
        adapters: tuple[MLflowAdapter, MLflowAdapter], registered: str, tmp_path: Path) -> None:
    full, rest = adapters
    recorder = MlflowRecorder(rest.client, "http://ui.example")
    report = _report(full.get_model_version(registered, "champion"))
    folder = tmp_path / "results"
    (folder / "sub").mkdir(parents=True)
    (folder / "metrics.json").write_text('{"profit_total": 0.12}')
    (folder / "sub" / "trades.csv").write_text("pair,profit\nBTC/USDT,1.5\n")
    run_id, url = recorder.record(report, folder)

    run = full.client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.end_time
    assert run.data.metrics == {"profit_total": 0.12, "trades": 7.0}
    assert run.data.params == {"timerange": "20240101-20240201", "pairs": "BTC/USDT"}
    assert run.data.tags["job_id"] == report.job.job_id
    assert run.info.run_name == f"backtest-{report.job.job_id[:8]}"
    experiment = full.client.get_experiment(run.info.experiment_id)
    assert experiment.name == MlflowRecorder.experiment_name(registered)
    assert url == f"http://ui.example/#/experiments/{experiment.experiment_id}/runs/{run_id}"
    listed = {f.path for f in full.client.list_artifacts(run_id, "results")}
    assert listed == {"results/metrics.json", "results/sub"}
    got = Path(full.client.download_artifacts(run_id, "results/sub/trades.csv", str(tmp_path)))
    assert got.read_text() == "pair,profit\nBTC/USDT,1.5\n"
    # A second job of the same strategy finds the experiment the first created.
    run_2, _ = recorder.record(report, folder)
    assert full.client.get_run(run_2).info.experiment_id == run.info.experiment_id


def _login(cloud: RunningCloud, secret_name: str) -> tuple[str, str]:
    value = json.loads(cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name(secret_name))["SecretString"])
    return value["username"], value["password"]


def test_a_run_is_recorded_once_the_creators_grant_arrives(
        cloud: RunningCloud, mlflow_url: str, registered: str,  # noqa: F811
        adapters: tuple[MLflowAdapter, MLflowAdapter], as_a_task: None,  # noqa: F811
        tmp_path: Path) -> None:
    """MLflow grants a new experiment's creator MANAGE in an after-request hook, after the
    experiment exists: the champion's and a challenger's backtests, started together, can
    find it in between and be refused (ci86: "runs/create answered 403: Permission denied").
    Here the admin makes the experiment, so the task's login may only read it (MLflow's
    default permission) until the grant a creator's hook would give, 0.5 s later."""
    admin, runner = (_login(cloud, credentials.AUTH_SECRET),
                     _login(cloud, credentials.RUNNER_SECRET))
    os.environ[credentials.USERNAME_ENV], os.environ[credentials.PASSWORD_ENV] = runner
    version = adapters[0].get_model_version(registered, "champion")

    def experiment(name: str) -> str:
        made = requests.post(f"{mlflow_url}/api/2.0/mlflow/experiments/create", auth=admin,
                             json={"name": MlflowRecorder.experiment_name(name)}, timeout=10)
        assert made.status_code == 200, made.text
        return str(made.json()["experiment_id"])

    def grant(experiment_id: str) -> None:
        done = requests.post(f"{mlflow_url}/api/3.0/mlflow/users/permissions/grant",
                             auth=admin, json={"username": runner[0],
                                               "resource_type": "experiment",
                                               "resource_id": experiment_id,
                                               "permission": "EDIT"}, timeout=10)
        assert done.status_code == 200, done.text

    late = f"late-{uuid.uuid4().hex[:8]}"
    experiment_id = experiment(late)
    recorder = MlflowRecorder(MLflowAdapter(mlflow_url, rest=True).client, None)
    (tmp_path / "metrics.json").write_text("{}")
    timer = threading.Timer(0.5, grant, [experiment_id])
    timer.start()
    try:
        run_id, _ = recorder.record(_report(version.model_copy(update={"name": late})),
                                    tmp_path)
    finally:
        timer.join()
    assert adapters[0].client.get_run(run_id).info.experiment_id == experiment_id

    # A refusal that lasts is the login's real permission: the task fails and says so.
    never = f"never-{uuid.uuid4().hex[:8]}"
    experiment(never)
    with pytest.raises(DependencyFailed, match="could not record the run in MLflow"):
        recorder.record(_report(version.model_copy(update={"name": never})), tmp_path)


def test_wrong_credentials_are_the_registry_unavailable(
        mlflow_url: str, registered: str, as_a_task: None) -> None:  # noqa: F811
    os.environ[credentials.USERNAME_ENV] = "someone"
    os.environ[credentials.PASSWORD_ENV] = "not-the-password"
    with pytest.raises(RegistryUnavailable, match=r"answered 401"):
        MLflowAdapter(mlflow_url, rest=True).get_model_version(registered, "champion")
    with pytest.raises(MlflowRestError) as caught:
        MLflowAdapter(mlflow_url, rest=True).client.get_registered_model(registered)
    assert caught.value.status == 401


def test_the_task_app_does_not_import_mlflow() -> None:
    # The point of the REST client: a task's imports stay without mlflow's 0.7 s.
    code = ("import sys, tradai.strategy_container.app, tradai.strategy_container.prepare, "
            "tradai.strategy_container.strategy_source; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def _report(version: Any) -> Any:
    from tradai.strategy_container.job import JobSpec
    from tradai.strategy_container.results import RunReport

    job = JobSpec(job_id=uuid.uuid4().hex, mode="backtest", strategy=version.name,
                  alias="champion")
    return RunReport(job=job, version=version, timerange="20240101-20240201",
                     pairs=["BTC/USDT"], timeframe="5m", result={},
                     metrics={"profit_total": 0.12, "trades": 7},
                     params={"timerange": "20240101-20240201", "pairs": "BTC/USDT",
                             "skipped": None})  # type: ignore[dict-item]
