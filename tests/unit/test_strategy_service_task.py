"""The on-demand strategy-service-task (``tradai.services.strategy_service.task``): its inputs,
``prepare-config`` and ``validate`` over a registered version, the verdict on the version, and
the exit codes. S3 is moto in-process; the registry is a fake holding versions and their tags;
the class check is Freqtrade's resolver on the packaged strategies."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.config.service import ConfigMergeService, base_config
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import RegistryUnavailable, StrategyNotFound, StrategyVersion
from tradai.services.strategy_service import task
from tradai.services.strategy_service.loader import StrategyLoader
from tradai.services.strategy_service.trial_backtest import TrialBacktest
from tradai.services.strategy_service.version_tasks import (
    PREPARED_CONFIG,
    VALIDATION_BACKTEST,
    VALIDATION_CHECKS,
    VALIDATION_REASON,
    VALIDATION_STATUS,
    TaskDependencyError,
    TaskInputError,
    VersionFailed,
    prepare_config,
    record_verdict,
    validate_version,
)
from tradai.strategies import STRATEGIES_DIR
from tradai.strategy_container.errors import (
    BadJob,
    ExchangeUnavailable,
    NoMarketData,
    StrategyFailed,
)

BUCKET = "configs"
EMA_CONFIG = json.loads((STRATEGIES_DIR / "configs" / "EmaCrossover.json").read_text())
TIMERANGE = "20261101-20261108"


class FakeRegistry:
    """Versions by (name, number), ``latest`` and aliases; records tags as MLflow would."""

    def __init__(self, versions: list[StrategyVersion], down: bool = False) -> None:
        self.versions = {(v.name, v.version): v for v in versions}
        self.tags: dict[tuple[str, int], dict[str, str]] = {}
        self.down = down

    def get_model_version(self, name: str, stage_or_alias: str | int = "latest"
                          ) -> StrategyVersion:
        if self.down:
            raise RegistryUnavailable("MLflow at http://mlflow failed: connection refused")
        mine = sorted((v for (n, _), v in self.versions.items() if n == name),
                      key=lambda v: v.version)
        if not mine:
            raise StrategyNotFound(f"strategy {name!r} not found")
        ref = str(stage_or_alias)
        if ref == "latest":
            return mine[-1]
        found = [v for v in mine if str(v.version) == ref or ref in v.aliases]
        if not found:
            raise StrategyNotFound(f"strategy {name!r} has no version or alias {ref!r}")
        return found[0]

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        self.tags.setdefault((name, version), {}).update(tags)


@pytest.fixture()
def store() -> Iterator[ConfigStore]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
            "LocationConstraint": "eu-central-1"})
        yield ConfigStore(s3, BUCKET)


def _version(store: ConfigStore, number: int = 1, strategy_class: str = "EmaCrossover",
             config: dict[str, Any] | None = None, name: str = "EmaCrossover",
             aliases: list[str] | None = None) -> StrategyVersion:
    path = store.put(name, number, config if config is not None else EMA_CONFIG)
    return StrategyVersion(name=name, version=number, aliases=aliases or [], timeframe="5m",
                           pairs=["BTC/USDT"], warmup_days=3, config_s3_path=path,
                           strategy_class=strategy_class)


def _merger(store: ConfigStore) -> ConfigMergeService:
    return ConfigMergeService(store, base_config("http://exchange.local"))


def _packaged_class_check(version: StrategyVersion, config: Mapping[str, Any]) -> str | None:
    return StrategyLoader(STRATEGIES_DIR).problem(version.strategy_class, config)


def _no_backtest(*_: Any) -> dict[str, Any]:
    raise AssertionError("the backtest must not run after a failed check")


# -- inputs ---------------------------------------------------------------------------------

def test_request_from_the_environment_and_arguments_winning() -> None:
    env = {"TRADAI_MODE": "validate", "TRADAI_STRATEGY": "EmaCrossover",
           "TRADAI_STRATEGY_VERSION": "champion", "TRADAI_TIMERANGE": TIMERANGE}
    req = task.parse_request([], env)
    assert (req.mode, req.strategy, req.version, req.timerange, req.backtest) == (
        "validate", "EmaCrossover", "champion", TIMERANGE, True)
    req = task.parse_request(["prepare-config", "--version", "3", "--overrides",
                              '{"stake_amount": 50}'], env)
    assert (req.mode, req.version, req.overrides) == ("prepare-config", "3",
                                                      {"stake_amount": 50})
    assert task.parse_request(["--dry-load"], env).backtest is False
    assert task.parse_request([], {**env, "TRADAI_VALIDATE_BACKTEST": "false"}).backtest is False
    assert task.parse_request(["validate", "--strategy", "S"], {}).version == "latest"


@pytest.mark.parametrize(("argv", "env", "message"), [
    ([], {}, "no mode: give one of prepare-config, validate"),
    (["train"], {}, "mode 'train' is not one of prepare-config, validate"),
    (["validate"], {}, "no strategy: give --strategy or TRADAI_STRATEGY"),
    (["prepare-config", "--strategy", "S", "--overrides", "{"], {}, "overrides are not JSON"),
    (["prepare-config", "--strategy", "S", "--overrides", "[1]"], {}, "must be a JSON object"),
    (["validate", "--strategy", "S", "--timerange", "20261108-20261101"], {},
     "start before the end"),
    (["validate", "--strategy", "S"], {"TRADAI_VALIDATE_BACKTEST": "maybe"},
     "TRADAI_VALIDATE_BACKTEST must be true or false"),
    (["validate", "--strategy", "S", "--bogus"], {}, "bad arguments"),
])
def test_bad_input_is_named(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(TaskInputError, match=message):
        task.parse_request(argv, env)


def test_main_exit_codes_for_bad_input_and_a_missing_dependency(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert task.main(["validate"], {}) == task.EXIT_BAD_INPUT
    assert "no strategy" in caplog.text
    monkeypatch.delenv("TRADAI_MLFLOW_URL", raising=False)
    monkeypatch.setenv("TRADAI_BUCKET_CONFIGS", BUCKET)
    assert task.main(["validate", "--strategy", "S"], {}) == task.EXIT_FAILED
    assert "TRADAI_MLFLOW_URL not set" in caplog.text


# -- prepare-config -------------------------------------------------------------------------

def test_prepare_config_stores_the_runnable_config_and_names_it_on_the_version(
        store: ConfigStore) -> None:
    registry = FakeRegistry([_version(store, 1), _version(store, 2, aliases=["champion"])])
    prepared = prepare_config(registry, _merger(store), store, "EmaCrossover", "champion",
                              {"stake_amount": 50})
    assert (prepared.strategy, prepared.version) == ("EmaCrossover", 2)
    assert prepared.config_s3_path == (f"s3://{BUCKET}/strategies/EmaCrossover/v2/prepared/"
                                       f"{prepared.sha256[:16]}.json")
    stored = store.get(prepared.config_s3_path)
    assert stored["stake_amount"] == 50 and stored["strategy"] == "EmaCrossover"
    # Base config layered in: the exchange the platform points at.
    assert stored["exchange"]["pair_whitelist"] == EMA_CONFIG["exchange"]["pair_whitelist"]
    assert "http://exchange.local" in json.dumps(stored["exchange"])
    assert registry.tags[("EmaCrossover", 2)] == {PREPARED_CONFIG: prepared.config_s3_path}
    # Same input, same object.
    again = prepare_config(registry, _merger(store), store, "EmaCrossover", "2",
                           {"stake_amount": 50})
    assert again.config_s3_path == prepared.config_s3_path


def test_prepare_config_refusals(store: ConfigStore) -> None:
    registry = FakeRegistry([_version(store, 1)])
    with pytest.raises(TaskInputError, match="strategy 'Nope' not found"):
        prepare_config(registry, _merger(store), store, "Nope", "latest")
    with pytest.raises(TaskInputError, match=r"overrides\.strategy"):
        prepare_config(registry, _merger(store), store, "EmaCrossover", "1",
                       {"strategy": "Other"})
    with pytest.raises(TaskInputError, match="the prepared config is invalid"):
        prepare_config(registry, _merger(store), store, "EmaCrossover", "1",
                       {"timeframe": 5})
    with pytest.raises(TaskDependencyError, match="connection refused"):
        prepare_config(FakeRegistry([], down=True), _merger(store), store, "EmaCrossover", 1)
    assert registry.tags == {}


# -- validate -------------------------------------------------------------------------------

def test_a_good_version_is_valid_after_the_three_checks(store: ConfigStore) -> None:
    registry = FakeRegistry([_version(store, 1)])
    seen: list[tuple[int, str]] = []

    def backtest(version: StrategyVersion, config: Mapping[str, Any], timerange: str
                 ) -> dict[str, Any]:
        seen.append((version.version, timerange))
        assert config == EMA_CONFIG  # the version's own config, as a job's run gets it
        return {"total_trades": 4, "profit_total": 0.01}

    verdict = validate_version(registry, _merger(store), _packaged_class_check, backtest,
                               "EmaCrossover", "latest", TIMERANGE)
    assert verdict.valid and verdict.checks == ("config", "class", "backtest")
    assert seen == [(1, TIMERANGE)]
    record_verdict(registry, verdict, "2026-12-05T00:00:00+00:00")
    tags = registry.tags[("EmaCrossover", 1)]
    assert tags[VALIDATION_STATUS] == "valid" and tags[VALIDATION_REASON] == ""
    assert tags[VALIDATION_CHECKS] == "config,class,backtest"
    assert json.loads(tags[VALIDATION_BACKTEST]) == {"timerange": TIMERANGE,
                                                     "total_trades": 4, "profit_total": 0.01}
    dry = validate_version(registry, _merger(store), _packaged_class_check, None,
                           "EmaCrossover", 1, TIMERANGE)
    assert dry.valid and dry.checks == ("config", "class") and dry.backtest is None


def test_a_class_that_does_not_import_is_invalid(store: ConfigStore) -> None:
    registry = FakeRegistry([_version(store, 1, strategy_class="NoSuchStrategy")])
    verdict = validate_version(registry, _merger(store), _packaged_class_check, _no_backtest,
                               "EmaCrossover", 1, TIMERANGE)
    assert not verdict.valid and verdict.checks == ("config", "class")
    assert verdict.reason is not None
    assert verdict.reason.startswith("strategy class NoSuchStrategy does not load: ")
    record_verdict(registry, verdict, "t")
    assert registry.tags[("EmaCrossover", 1)][VALIDATION_STATUS] == "invalid"


def test_a_config_that_does_not_load_or_is_invalid(store: ConfigStore) -> None:
    gone = _version(store, 1).model_copy(
        update={"config_s3_path": f"s3://{BUCKET}/strategies/EmaCrossover/v1/gone.json"})
    bad = _version(store, 2, config={**EMA_CONFIG, "timeframe": 5})
    registry = FakeRegistry([gone, bad])
    missing = validate_version(registry, _merger(store), _packaged_class_check, _no_backtest,
                               "EmaCrossover", 1, TIMERANGE)
    assert not missing.valid and missing.checks == ("config",)
    assert "its config does not load" in (missing.reason or "")
    invalid = validate_version(registry, _merger(store), _packaged_class_check, _no_backtest,
                               "EmaCrossover", 2, TIMERANGE)
    assert not invalid.valid and "its config is invalid: timeframe" in (invalid.reason or "")


def test_a_failed_backtest_is_invalid_a_failed_dependency_decides_nothing(
        store: ConfigStore) -> None:
    registry = FakeRegistry([_version(store, 1)])

    def crashes(*_: Any) -> dict[str, Any]:
        raise VersionFailed("strategy raised ZeroDivisionError during backtest")

    verdict = validate_version(registry, _merger(store), _packaged_class_check, crashes,
                               "EmaCrossover", 1, TIMERANGE)
    assert not verdict.valid and verdict.checks == ("config", "class", "backtest")
    assert verdict.reason == (f"its backtest over {TIMERANGE} failed: strategy raised "
                              "ZeroDivisionError during backtest")

    def no_data(*_: Any) -> dict[str, Any]:
        raise TaskDependencyError("no market data for BTC/USDT 5m")

    with pytest.raises(TaskDependencyError, match="no market data"):
        validate_version(registry, _merger(store), _packaged_class_check, no_data,
                         "EmaCrossover", 1, TIMERANGE)
    with pytest.raises(TaskInputError, match="no version or alias '7'"):
        validate_version(registry, _merger(store), _packaged_class_check, no_data,
                         "EmaCrossover", 7, TIMERANGE)


@pytest.mark.parametrize(("error", "expected"), [
    (StrategyFailed("strategy class X failed to load"), VersionFailed),
    (BadJob("Freqtrade refused the configuration"), VersionFailed),
    (NoMarketData("no market data for BTC/USDT"), TaskDependencyError),
    (ExchangeUnavailable("exchange markets unavailable"), TaskDependencyError),
])
def test_trial_backtest_sorts_the_containers_errors(
        store: ConfigStore, error: Exception, expected: type[Exception],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    trial = TrialBacktest(None, _merger(store), None, work_dir=str(tmp_path))

    def fails(*_: Any) -> dict[str, Any]:
        raise error

    monkeypatch.setattr(trial, "_run", fails)
    with pytest.raises(expected, match=str(error)):
        trial(_version(store), EMA_CONFIG, TIMERANGE)
    assert list(tmp_path.iterdir()) == []  # its scratch folder removed
