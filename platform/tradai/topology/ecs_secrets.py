"""The ECS ``secrets`` of the platform's containers: values ECS hands a container as
environment variables at start, read by the task's *execution* role, not by code in the task.

MLflow's database login reaches MLflow this way only: its task role cannot read that secret
(the task role is what the code in the container holds). The strategy container gets its
MLflow login (``mlflow-runner``) this way too, as the variables the MLflow client reads: its
task role reads no MLflow secret, and a task makes no Secrets Manager call before its first
MLflow request. The Pulumi program
(``tradai_infra.secret_values``) and the local cloud (the bootstrap's task definitions, the
local ECS runtime) declare the same entries, and both execution roles may read exactly the
secrets some container names.

``valueFrom`` is ``<secret ARN>:<json key>::`` (the version stage and id left to their
defaults): https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
secrets-envvar-secrets-manager.html.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Container -> (environment variable, secret, JSON key).
CONTAINER_SECRETS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "mlflow": (("TRADAI_MLFLOW_DB_USERNAME", "mlflow-database", "username"),
               ("TRADAI_MLFLOW_DB_PASSWORD", "mlflow-database", "password")),
    # tradai.registry.credentials.USERNAME_ENV / PASSWORD_ENV, the runner login's keys.
    "strategy": (("MLFLOW_TRACKING_USERNAME", "mlflow-runner", "username"),
                 ("MLFLOW_TRACKING_PASSWORD", "mlflow-runner", "password")),
}


def value_from(secret_arn: str, json_key: str) -> str:
    return f"{secret_arn}:{json_key}::"


def parse_value_from(value: str) -> tuple[str, str | None, str | None, str | None]:
    """``valueFrom`` -> (secret ARN, JSON key, version stage, version id); empty parts None."""
    parts = value.split(":")
    arn, rest = ":".join(parts[:7]), [*parts[7:], "", "", ""]
    return arn, rest[0] or None, rest[1] or None, rest[2] or None


def container_secrets(name: str, arns: Mapping[str, str]) -> list[dict[str, str]]:
    """The ``secrets`` entries of one container definition, given secret ARNs by name."""
    return [{"name": env, "valueFrom": value_from(arns[secret], key)}
            for env, secret, key in CONTAINER_SECRETS.get(name, ())]


def execution_secrets(names: Iterable[str]) -> list[str]:
    """The secrets the execution role must read: those the given containers name."""
    return sorted({secret for n in names for _, secret, _ in CONTAINER_SECRETS.get(n, ())})
