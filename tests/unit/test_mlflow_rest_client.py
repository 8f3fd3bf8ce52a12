"""The REST client's HTTP behaviour is MLflow's own: transient answers retried with backoff
(``MLFLOW_HTTP_REQUEST_*``), MLflow's error JSON kept as ``error_code``, basic auth from the
environment (tradai/registry/rest_client.py). Against a scripted HTTP server."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tradai.registry import credentials
from tradai.registry.rest_client import MlflowRestClient, MlflowRestError

VERSION = {"name": "S", "version": "3", "run_id": "r1", "creation_timestamp": 17,
           "tags": [{"key": "tradai.timeframe", "value": "5m"}], "aliases": ["champion"]}


class Script:
    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[bytes] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            script.bodies.append(self.rfile.read(length))
            script.seen.append((self.command, self.path, dict(self.headers)))
            status, body = script.answers.pop(0) if script.answers else (500, b"no answer")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.delenv(credentials.USERNAME_ENV, raising=False)
    monkeypatch.delenv(credentials.PASSWORD_ENV, raising=False)


def test_transient_answers_are_retried_then_the_answer_parsed(
        server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(503, b"busy"), (502, b"gateway"),
                      (200, json.dumps({"model_version": VERSION}).encode())]
    mv = MlflowRestClient(url).get_model_version("S", "3")
    assert (mv.name, mv.version, mv.run_id, mv.creation_timestamp) == ("S", "3", "r1", 17)
    assert mv.tags == {"tradai.timeframe": "5m"} and mv.aliases == ["champion"]
    assert [p for _, p, _ in script.seen] == \
        ["/api/2.0/mlflow/model-versions/get?name=S&version=3"] * 3


def test_retries_are_bounded_by_mlflows_setting(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(503, b"busy")] * 10
    with pytest.raises(MlflowRestError) as caught:
        MlflowRestClient(url).get_registered_model("S")
    assert caught.value.status == 503 and "answered 503" in caught.value.message
    assert len(script.seen) == 4  # the request and its 3 retries


def test_mlflows_error_code_is_kept_and_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(404, json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST",
                                        "message": "Registered Model with name=S not found"}
                                       ).encode())]
    with pytest.raises(MlflowRestError) as caught:
        MlflowRestClient(url).get_registered_model("S")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert caught.value.message == "Registered Model with name=S not found"
    assert len(script.seen) == 1


def test_a_missing_experiment_is_none(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "x"}')]
    assert MlflowRestClient(url).get_experiment_by_name("backtests-S") is None


def test_basic_auth_comes_from_the_environment(server: tuple[str, Script],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url, script = server
    monkeypatch.setenv(credentials.USERNAME_ENV, "runner")
    monkeypatch.setenv(credentials.PASSWORD_ENV, "s3cret")
    script.answers = [(200, json.dumps({"model_version": VERSION}).encode())]
    MlflowRestClient(url).get_model_version_by_alias("S", "champion")
    headers = script.seen[0][2]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"runner:s3cret").decode()


def test_an_unreachable_server_is_an_error_naming_it(unused_port: int) -> None:
    with pytest.raises(MlflowRestError, match=f"127.0.0.1:{unused_port}"):
        MlflowRestClient(f"http://127.0.0.1:{unused_port}").get_registered_model("S")


def test_artifacts_not_behind_the_server_are_refused(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, json.dumps({"run": {"info": {
        "run_id": "r1", "experiment_id": "1", "artifact_uri": "s3://bucket/1/r1/artifacts"}}}
    ).encode())]
    with pytest.raises(MlflowRestError, match="--serve-artifacts"):
        MlflowRestClient(url).list_artifacts("r1")


def test_a_new_runs_artifacts_go_under_its_root_without_asking_again(
        server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    run = {"info": {"run_id": "r9", "experiment_id": "4",
                    "artifact_uri": "mlflow-artifacts:/4/r9/artifacts"}}
    script.answers = [(200, json.dumps({"run": run}).encode()), (200, b""), (200, b"")]
    (tmp_path / "sub").mkdir()
    (tmp_path / "a b.json").write_text("{}")
    (tmp_path / "sub" / "c.csv").write_text("x\n1\n")
    client = MlflowRestClient(url)
    assert client.create_run("4", tags={"job_id": "j"}, run_name="backtest-j").info.run_id == "r9"
    client.log_artifacts("r9", str(tmp_path), "results")
    assert [(m, p) for m, p, _ in script.seen] == [
        ("POST", "/api/2.0/mlflow/runs/create"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/4/r9/artifacts/results/a%20b.json"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/4/r9/artifacts/results/sub/c.csv")]
    created = json.loads(script.bodies[0])
    assert created["experiment_id"] == "4" and created["run_name"] == "backtest-j"
    assert created["tags"] == [{"key": "job_id", "value": "j"}]
    assert script.bodies[1:] == [b"{}", b"x\n1\n"]


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
