"""What strategy code can reach on AWS: the strategy task role (its access in the spec) holds
no secret beyond the exchange keys live mode reads at run time (its MLflow login is handed in
by ECS, read by the execution role: tradai.topology.ecs_secrets), and no ``*`` resource
except PutMetricData pinned to its namespace (docs/security.md, "Strategy code").

The statements are rendered from the spec's access by the one builder the Pulumi program and the
local cloud use (``tradai.topology.iam_policy``), with ARNs named after the logical resource,
so the test sees the policy the role gets.
"""

from __future__ import annotations

import pytest

from tradai.topology import SpecError, default_topology
from tradai.topology.access import TRADING_METRICS, access_of
from tradai.topology.iam_policy import EXCHANGE_SECRET, ResourceArns
from tradai.topology.iam_policy import access_statements as statements
from tradai.topology.load import parse_topology
from tradai.topology.model import Access

STRATEGY = "strategy"
# Any secret but the exchange keys fails this test (MLflow's logins above all).
ADMITTED_GAPS: set[str] = set()


def _arns() -> ResourceArns:
    topo = default_topology()

    def named(kind: str, names: list[str]) -> dict[str, str]:
        return {n: f"arn:{kind}:{n}" for n in names}

    return ResourceArns(
        tables=named("table", [t.name for t in topo.tables]),
        queues=named("queue", [q.name for q in topo.queues]),
        buckets=named("bucket", [b.name for b in topo.buckets]),
        topics=named("topic", [t.name for t in topo.topics]),
        secrets=named("secret", [s.name for s in topo.secrets]),
        state_machines=named("states", [m.name for m in topo.state_machines]),
        lambdas=named("lambda", [f.name for f in topo.lambdas]),
        task_families=named("task-family", [t.name for t in topo.task_definitions]),
        log_groups=named("log-group", [f.name for f in topo.lambdas]),
        cluster="arn:cluster", cluster_tasks="arn:cluster-tasks/*",
        cluster_services="arn:cluster-services/*", task_roles=("arn:role:task",),
        session_services="arn:session-services", session_roles=("arn:role:session",),
        nat_group="arn:nat-group", route_tables=("arn:rt",), instances="arn:instance/*",
        nat_name="nat")


def _secrets_granted(access: Access) -> set[str]:
    arns = _arns()
    by_arn = {arn: name for name, arn in arns.secrets.items()}
    granted = set()
    for stmt in statements(access, arns):
        if any(a.startswith("secretsmanager:") for a in stmt.actions):
            granted |= {by_arn.get(str(r), str(r)) for r in stmt.resources}
    return granted


def test_strategy_task_reads_no_secret_beyond_the_exchange_keys():
    granted = _secrets_granted(access_of(default_topology(), STRATEGY))
    assert EXCHANGE_SECRET in granted  # live mode reads it at run time
    assert granted - {EXCHANGE_SECRET} <= ADMITTED_GAPS, granted
    assert "mlflow-basic-auth" not in granted  # the admin login


def test_strategy_task_logs_in_to_mlflow_with_its_own_login():
    from tradai.topology.ecs_secrets import CONTAINER_SECRETS

    [strategy] = [t for t in default_topology().task_definitions if t.name == STRATEGY]
    assert strategy.mlflow_secret == "mlflow-runner"
    assert {secret for _, secret, _ in CONTAINER_SECRETS[STRATEGY]} == {"mlflow-runner"}


def test_strategy_task_has_no_star_resource_but_its_metric_namespace():
    for stmt in statements(access_of(default_topology(), STRATEGY), _arns()):
        assert not any(a == "*" or a.endswith(":*") for a in stmt.actions), stmt
        if any(str(r) == "*" or str(r).endswith(":*") for r in stmt.resources):
            # PutMetricData takes no resource; the condition pins the namespace.
            assert stmt.actions == ("cloudwatch:PutMetricData",), stmt
            assert stmt.conditions == {
                "StringEquals": {"cloudwatch:namespace": [TRADING_METRICS]}}, stmt


def test_the_checks_catch_a_new_secret_or_star():
    """Guards the guards: an Access with one more secret or an ECS grant on ``*`` fails."""
    access = access_of(default_topology(), STRATEGY)
    more = access.model_copy(update={"secrets": (*access.secrets, "gateway-client")})
    assert not _secrets_granted(more) - {EXCHANGE_SECRET} <= ADMITTED_GAPS
    tasks = access.model_copy(update={"manage_tasks": True})
    stars = [s for s in statements(tasks, _arns()) if "*" in [str(r) for r in s.resources]
             and s.actions != ("cloudwatch:PutMetricData",)]
    assert stars  # ecs:ListTasks on "*": the star test above would refuse it


def test_strategy_task_writes_only_its_prefixes_of_results_and_deletes_nothing():
    """Strategy code cannot delete another user's results (the buckets are versioned, so an
    overwrite keeps the earlier version) nor read any backtest's results."""
    by_action: dict[str, set[str]] = {}
    for stmt in statements(access_of(default_topology(), STRATEGY), _arns()):
        for action in stmt.actions:
            by_action.setdefault(action, set()).update(str(r) for r in stmt.resources)
    assert "s3:DeleteObject" not in by_action and "s3:DeleteObjectVersion" not in by_action
    # models/<run>/: the model folder a train-mode task writes (04ecd97, the Retraining
    # workflow); the strategy-service-task registers it.
    assert by_action["s3:PutObject"] == {"arn:bucket:results/backtests/*",
                                         "arn:bucket:results/trading/*",
                                         "arn:bucket:results/models/*"}
    assert by_action["s3:GetObject"] == {"arn:bucket:arcticdb/*", "arn:bucket:configs/*",
                                         "arn:bucket:results/trading/*"}


def test_a_malformed_object_prefix_is_refused():
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("tradai.topology").joinpath("topology.yaml")
                         .read_text())
    [strategy] = [t for t in raw["task_definitions"] if t["name"] == STRATEGY]
    strategy["access"] = {"objects_write": ["results"]}  # no prefix
    with pytest.raises(SpecError, match=r"task_definitions\['strategy'\]\.access\."
                       r"objects_write names 'results', which is not bucket/prefix/"):
        parse_topology(raw)
    assert Access(objects_write=("results/x/",)).objects_write == ("results/x/",)
