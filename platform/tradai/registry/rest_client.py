"""The MLflow calls a strategy task makes, over MLflow's REST API, without importing ``mlflow``.

Importing ``mlflow`` 3 costs a task about 0.7 s of CPU before its first request (its package
loads the GenAI, gateway and FastAPI modules whatever is used), a sixth of a short backtest.
A task needs a dozen calls: look a version up, fetch its code, record one run. This client
makes them with the method names and results ``MlflowClient`` has, so ``MLflowAdapter``,
``strategy_dir`` and ``MlflowRecorder`` take either, and with MLflow's own HTTP behaviour:
the same ``MLFLOW_HTTP_REQUEST_*`` variables, the same transient codes retried with backoff,
basic auth from ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD`` (``credentials.py``).

REST API: https://mlflow.org/docs/latest/api_reference/rest-api.html. Artifacts go through the
tracking server's proxy (``mlflow server --serve-artifacts``, as the MLflow service runs).
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import urllib3

from tradai.registry.credentials import PASSWORD_ENV, USERNAME_ENV

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
# MLflow's transient failures (mlflow.utils.request_utils._TRANSIENT_FAILURE_RESPONSE_CODES).
TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})


class MlflowRestError(Exception):
    """What MLflow answered with an error (``error_code`` as ``MlflowException`` has it), or
    why it could not be reached."""

    def __init__(self, message: str, error_code: str = "INTERNAL_ERROR",
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    creation_timestamp: int | None
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, mv: dict[str, Any]) -> ModelVersion:
        return cls(name=mv["name"], version=str(mv["version"]), run_id=mv.get("run_id") or None,
                   creation_timestamp=_int(mv.get("creation_timestamp")),
                   source=mv.get("source"), tags=_tags(mv.get("tags")),
                   aliases=list(mv.get("aliases") or []))


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str | None
    latest_versions: list[ModelVersion]
    aliases: dict[str, str]

    @classmethod
    def from_json(cls, rm: dict[str, Any]) -> RegisteredModel:
        return cls(name=rm["name"], description=rm.get("description"),
                   latest_versions=[ModelVersion.from_json(mv)
                                    for mv in rm.get("latest_versions") or []],
                   aliases={a["alias"]: str(a["version"]) for a in rm.get("aliases") or []})


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    artifact_uri: str


@dataclass(frozen=True)
class Run:
    info: RunInfo


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


class MlflowRestClient:
    """A subset of ``MlflowClient``: the lookups and the run recording of a task."""

    def __init__(self, tracking_uri: str) -> None:
        self.base = tracking_uri.rstrip("/")
        self._host = urlparse(self.base)
        retries = _env_int("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7)
        self._retry = urllib3.Retry(
            total=retries, connect=retries, read=retries, status=retries, redirect=retries,
            status_forcelist=TRANSIENT_CODES, allowed_methods=None, raise_on_status=False,
            backoff_factor=_env_float("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2.0),
            backoff_jitter=_env_float("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0),
            respect_retry_after_header=True)
        self._timeout = urllib3.Timeout(
            total=_env_float("MLFLOW_HTTP_REQUEST_TIMEOUT", 120.0))
        self._http = urllib3.PoolManager(maxsize=4)  # keep-alive: one connection, reused
        self._artifact_uris: dict[str, str] = {}  # run id -> its artifact URI, as learnt

    # -- the registry -------------------------------------------------------------------------
    def get_model_version(self, name: str, version: str) -> ModelVersion:
        body = self._api("GET", "model-versions/get", {"name": name, "version": version})
        return ModelVersion.from_json(body["model_version"])

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        body = self._api("GET", "registered-models/alias", {"name": name, "alias": alias})
        return ModelVersion.from_json(body["model_version"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        body = self._api("GET", "registered-models/get", {"name": name})
        return RegisteredModel.from_json(body["registered_model"])

    # -- experiments and runs -----------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            body = self._api("GET", "experiments/get-by-name", {"experiment_name": name})
        except MlflowRestError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        exp = body["experiment"]
        return Experiment(str(exp["experiment_id"]), exp["name"])

    def create_experiment(self, name: str) -> str:
        return str(self._api("POST", "experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str, tags: dict[str, str] | None = None,
                   run_name: str | None = None) -> Run:
        request: dict[str, Any] = {
            "experiment_id": str(experiment_id), "start_time": _now_ms(),
            "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]}
        if run_name:
            request["run_name"] = run_name
        return self._learnt(_run(self._api("POST", "runs/create", request)["run"]))

    def get_run(self, run_id: str) -> Run:
        return self._learnt(_run(self._api("GET", "runs/get", {"run_id": run_id})["run"]))

    def _learnt(self, run: Run) -> Run:
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri  # fixed for a run's life
        return run

    def log_batch(self, run_id: str, metrics: Sequence[Any] = (), params: Sequence[Any] = (),
                  tags: Sequence[Any] = ()) -> None:
        """Metrics, params and tags as MLflow's entities or this module's: anything with
        ``key`` and ``value`` (and a metric's ``timestamp`` and ``step``)."""
        self._api("POST", "runs/log-batch", {
            "run_id": run_id,
            "metrics": [{"key": m.key, "value": m.value, "timestamp": m.timestamp,
                         "step": m.step} for m in metrics],
            "params": [{"key": p.key, "value": str(p.value)} for p in params],
            "tags": [{"key": t.key, "value": str(t.value)} for t in tags]})

    def set_terminated(self, run_id: str, status: str = "FINISHED") -> None:
        self._api("POST", "runs/update", {"run_id": run_id, "status": status,
                                          "end_time": _now_ms()})

    # -- artifacts ----------------------------------------------------------------------------
    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None
                      ) -> None:
        root = self._artifact_root(run_id)
        local = Path(local_dir)
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            rel = path.relative_to(local).as_posix()
            dest = posixpath.join(root, artifact_path, rel) if artifact_path \
                else posixpath.join(root, rel)
            self._request("PUT", _quote(dest), body=path.read_bytes(),
                          headers={"Content-Type": "application/octet-stream"})

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[dict[str, Any]]:
        root = self._artifact_root(run_id)
        return self._list(posixpath.join(root, path) if path else root)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Like ``MlflowClient.download_artifacts``: the local path of ``path`` (a file, or a
        folder fetched whole) under ``dst_path``."""
        root = self._artifact_root(run_id)
        dest = Path(dst_path) if dst_path else Path.cwd()
        remote = posixpath.join(root, path)
        files = self._list(remote)
        if not files:  # a file (MLflow lists a file as nothing) or an empty folder
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.write_bytes(self._request("GET", _quote(remote)))
            except MlflowRestError as exc:
                if exc.status != 404:
                    raise
                target.mkdir(parents=True, exist_ok=True)
            return str(target)
        self._download_folder(remote, dest / path, files)
        return str(dest / path)

    def _download_folder(self, remote: str, local: Path, files: list[dict[str, Any]]) -> None:
        local.mkdir(parents=True, exist_ok=True)
        for f in files:
            name = posixpath.basename(f["path"])
            if name in ("", ".", "..") or "/" in name:
                raise MlflowRestError(f"MLflow listed an unsafe artifact name {f['path']!r}",
                                      "INVALID_STATE")
            if f.get("is_dir"):
                sub = posixpath.join(remote, name)
                self._download_folder(sub, local / name, self._list(sub))
            else:
                (local / name).write_bytes(self._request("GET",
                                                         _quote(posixpath.join(remote, name))))

    def _list(self, path: str) -> list[dict[str, Any]]:
        body = json.loads(self._request("GET", ARTIFACTS_API, {"path": path}) or b"{}")
        return list(body.get("files") or [])

    def _artifact_root(self, run_id: str) -> str:
        """The run's artifact folder below the proxy's root (``<experiment>/<run>/artifacts``),
        from its ``mlflow-artifacts:`` URI."""
        known = self._artifact_uris.get(run_id)
        uri = urlparse(known or self.get_run(run_id).info.artifact_uri)
        if uri.scheme != "mlflow-artifacts":
            raise MlflowRestError(
                f"run {run_id}'s artifacts are at {uri.scheme}:, not behind the tracking "
                "server: start MLflow with --serve-artifacts", "INVALID_STATE")
        if uri.netloc and uri.netloc != self._host.netloc:
            raise MlflowRestError(f"run {run_id}'s artifacts are served by {uri.netloc}, "
                                  f"not {self._host.netloc}", "INVALID_STATE")
        return uri.path.strip("/")

    # -- transport ----------------------------------------------------------------------------
    def _api(self, method: str, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        path = f"{API}/{endpoint}"
        if method == "GET":
            data = self._request("GET", path, payload)
        else:
            data = self._request(method, path, body=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
        return json.loads(data or b"{}")

    def _request(self, method: str, path: str, query: dict[str, Any] | None = None,
                 body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urlencode(query)
        try:
            resp = self._http.request(method, url, body=body, headers=self._headers(headers),
                                      retries=self._retry, timeout=self._timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise MlflowRestError(f"API request to {url} failed: {exc}") from exc
        if resp.status >= 400:
            raise _error(resp.status, resp.data, url)
        return resp.data

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": "tradai-mlflow-rest", **(extra or {})}
        user, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
        if user and password:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers


def _error(status: int, data: bytes, url: str) -> MlflowRestError:
    try:
        body = json.loads(data)
        return MlflowRestError(str(body.get("message") or body),
                               str(body.get("error_code") or "INTERNAL_ERROR"), status)
    except (ValueError, AttributeError):
        text = data[:200].decode(errors="replace")
        code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "ENDPOINT_NOT_FOUND"}.get(status, "INTERNAL_ERROR")
        return MlflowRestError(f"{url} answered {status}: {text}", code, status)


def _run(run: dict[str, Any]) -> Run:
    info = run["info"]
    return Run(RunInfo(info["run_id"], str(info["experiment_id"]), info["artifact_uri"]))


def _quote(artifact_path: str) -> str:
    return f"{ARTIFACTS_API}/{quote(artifact_path)}"


def _tags(raw: Any) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in raw or []}


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)
