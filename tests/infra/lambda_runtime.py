"""The Lambda python3.11 runtime's view of a function, on this machine: the function's archive
extracted as ``/var/task``, the dependency layer as ``/opt`` and the SDK the runtime ships
(boto3, botocore and their dependencies) and nothing else, imported in a clean interpreter
(``python -I -S -B``: no site-packages, no PYTHON* variables, no bytecode written, as on
Lambda's read-only file system).

The search path is the runtime's order: ``/var/task``, the layer's
``python/lib/python3.11/site-packages`` and ``python/``, then the runtime's own packages
(https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths).
The SDK stand-in is this environment's boto3 and botocore, linked into a directory of their
own, not the exact version the runtime has at the time; the dependency layer pins its own
(lambda_package.py), which comes first on the path, as on Lambda.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tradai_infra.lambda_package import PYTHON_VERSION, LambdaArtifacts

# What the python3.11 runtime ships besides the standard library: boto3 and botocore with
# their own dependencies.
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
REGION = "eu-central-1"

_CHILD = r"""
import importlib, json, os, sys, time, traceback
module, attr, paths = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = paths
started, cpu = time.perf_counter(), time.process_time()
result = {"ok": False}
try:
    handler = getattr(importlib.import_module(module), attr)
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu
    if not callable(handler):
        raise TypeError(f"{module}.{attr} is not callable")
    if "mlflow" in sys.modules:
        # What a handler calls at run time must load and work too: the client's REST calls
        # against a stand-in server answering as MLflow's registry API does.
        import http.server, threading
        from mlflow.tracking import MlflowClient
        answers = {
            "/api/2.0/mlflow/registered-models/get": {"registered_model": {
                "name": "probe", "aliases": [{"alias": "champion", "version": "3"}]}},
            "/api/2.0/mlflow/registered-models/alias": {"model_version": {
                "name": "probe", "version": "3", "tags": [{"key": "k", "value": "v"}]}},
        }
        class Registry(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(answers.get(self.path.split("?")[0], {})).encode()
                self.send_response(200 if self.path.split("?")[0] in answers else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = MlflowClient(url, registry_uri=url)
        model = client.get_registered_model("probe")
        version = client.get_model_version_by_alias("probe", "champion")
        server.shutdown()
        if model.aliases == {"champion": "3"} and version.tags == {"k": "v"}:
            result["mlflow_client"] = "rest"
    outside = sorted({m.split(".")[0] for m, v in list(sys.modules.items())
                      if getattr(v, "__file__", None)
                      and not any(v.__file__.startswith(p) for p in paths)
                      and not v.__file__.startswith(sys.base_prefix)})
    if outside:
        raise ImportError(f"modules loaded from outside the runtime's paths: {outside}")
    result["ok"] = True
except BaseException as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"
    result["traceback"] = traceback.format_exc()[-3000:]
print(json.dumps(result))
"""


@dataclass(frozen=True)
class LambdaRoot:
    task: Path  # /var/task
    opt: Path  # /opt
    sdk: Path  # the runtime's boto3 and botocore

    def paths(self, *, with_layer: bool = True) -> list[str]:
        layer = [str(self.opt / "python" / "lib" / f"python{PYTHON_VERSION}" / "site-packages"),
                 str(self.opt / "python")] if with_layer else []
        return [str(self.task), *layer, str(self.sdk)]


@dataclass(frozen=True)
class ImportResult:
    ok: bool
    seconds: float | None  # wall time of the import
    error: str | None
    detail: str | None
    mlflow_client: str | None
    cpu_seconds: float | None = None  # the interpreter's CPU time for it (load-independent)


def extract(artifacts: LambdaArtifacts, root: Path) -> LambdaRoot:
    """The archives as Lambda unpacks them, and the runtime's SDK beside them."""
    task, opt, sdk = root / "task", root / "opt", root / "runtime"
    with zipfile.ZipFile(artifacts.code.path) as zf:
        zf.extractall(task)
    with zipfile.ZipFile(artifacts.layer.path) as zf:
        zf.extractall(opt)
    sdk.mkdir(parents=True)
    site = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME_SDK:
        (sdk / name).symlink_to(site / name)
    return LambdaRoot(task=task, opt=opt, sdk=sdk)


def import_handler(root: LambdaRoot, handler: str, *, with_layer: bool = True,
                   timeout: float = 120, bytecode: Path | None = None) -> ImportResult:
    """Import ``module.attr`` in a fresh clean interpreter; time the import alone.

    ``bytecode``: a folder outside the archives where the interpreters share compiled
    modules (``-X pycache_prefix``), for a test importing many handlers: the same source gives
    the same modules, and each interpreter no longer compiles botocore from source. Without it
    nothing is written (``-B``), as on Lambda's read-only file system; the cold-start figures
    of ``benchmarks/bench_lambda_package.py`` are taken that way."""
    module, attr = handler.rsplit(".", 1)
    env = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "LAMBDA_TASK_ROOT": str(root.task),
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    cache = ["-B"] if bytecode is None else ["-X", f"pycache_prefix={bytecode}"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", *cache, "-c", _CHILD, module, attr,
         json.dumps(root.paths(with_layer=with_layer))],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=root.task, check=False)
    try:
        out = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return ImportResult(False, None, f"interpreter exited {done.returncode}",
                            done.stderr[-3000:], None)
    return ImportResult(out["ok"], out.get("seconds"), out.get("error"), out.get("traceback"),
                        out.get("mlflow_client"), out.get("cpu_seconds"))
