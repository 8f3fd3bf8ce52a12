"""What the MLflow task reads from its environment (task definition + runtime)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed


class MlflowServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # ECS (and the local runtime) assign the port; 5000 is the spec's container port.
    port: int = Field(default=5000, validation_alias="PORT")
    # Local tasks share one host, so loopback by default; a container sets 0.0.0.0.
    host: str = Field(default="127.0.0.1", validation_alias="TRADAI_BIND_HOST")
    workers: int = Field(default=1, ge=1, validation_alias="TRADAI_MLFLOW_WORKERS")
    # Where the SQLite store lives; the default is the task's working directory.
    data_dir: Path = Field(default_factory=Path.cwd, validation_alias=AliasChoices(
        "TRADAI_MLFLOW_DATA_DIR", "TRADAI_DATA_DIR"))
    # An explicit store wins over everything (sqlite:///..., postgresql+psycopg2://...).
    backend_store_uri: str | None = Field(default=None,
                                          validation_alias="MLFLOW_BACKEND_STORE_URI")
    # PostgreSQL from Secrets Manager (AWS: RDS): the secret holds username/password.
    database_secret: str | None = Field(default=None,
                                        validation_alias="TRADAI_MLFLOW_DATABASE_SECRET")
    # Or the same credentials handed in by ECS (task-definition ``secrets``, JSON keys of the
    # database secret, read by the execution role); they win over the secret's name.
    database_username: str | None = Field(default=None,
                                          validation_alias="TRADAI_MLFLOW_DB_USERNAME")
    database_password: str | None = Field(default=None, repr=False,
                                          validation_alias="TRADAI_MLFLOW_DB_PASSWORD")
    database_host: str | None = Field(default=None, validation_alias="TRADAI_MLFLOW_DB_HOST")
    database_port: int = Field(default=5432, validation_alias="TRADAI_MLFLOW_DB_PORT")
    database_name: str = Field(default="mlflow", validation_alias="TRADAI_MLFLOW_DB_NAME")
    artifacts_bucket: str | None = deployed("TRADAI_BUCKET_MLFLOW_ARTIFACTS")
    # S3 is what it is used for: the S3-specific endpoint wins, as botocore has it.
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"))
    # The gateway serves MLflow under /mlflow; set the prefix when it does not strip it.
    static_prefix: str | None = Field(default=None, validation_alias="TRADAI_MLFLOW_STATIC_PREFIX")
