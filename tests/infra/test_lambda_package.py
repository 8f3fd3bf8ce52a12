"""Issue 16, item 4: the Lambda code the program uploads imports on the runtime.

The artifacts are built by the function the program calls (``package_lambdas``), extracted as
Lambda unpacks them, and every handler of the topology spec whose module exists is imported
in a clean interpreter with only the runtime's boto3/botocore besides (lambda_runtime.py).
The build installs the lock from uv's cache; on a cold cache it downloads the lock's wheels
from PyPI, as ``./dev``'s install step does (infra/README.md, "Lambda packaging").
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from tests.infra.conftest import Deployed
from tests.infra.lambda_runtime import LambdaRoot, extract, import_handler
from tests.infra.test_bad_input import _deploy_fails
from tradai.topology import Topology
from tradai_infra import lambda_package as lp
from tradai_infra.errors import LambdaPackageError
from tradai_infra.validate import missing_handlers

LAYER = "aws:lambda/layerVersion:LayerVersion"
FUNCTION = "aws:lambda/function:Function"
MB = 1_048_576


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> lp.LambdaArtifacts:
    """A fresh build in an empty directory, by the program's own entry point."""
    return lp.package_lambdas(build_dir=tmp_path_factory.mktemp("lambda-build"))


@pytest.fixture(scope="module")
def root(built: lp.LambdaArtifacts, tmp_path_factory: pytest.TempPathFactory) -> LambdaRoot:
    return extract(built, tmp_path_factory.mktemp("lambda-root"))


@pytest.fixture(scope="module")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compiled modules shared by this module's interpreters (outside the archives)."""
    return tmp_path_factory.mktemp("lambda-bytecode")


def _handlers(topo: Topology) -> list[tuple[str, str]]:
    missing = set(missing_handlers(topo))
    return [(f.name, f.handler) for f in topo.lambdas if f.name not in missing]


# A fresh interpreter per handler; they share compiled modules, so only the first compiles.
@pytest.mark.timeout(900)
def test_every_handler_imports_with_only_the_runtime_and_the_artifacts(
        root: LambdaRoot, topo: Topology, bytecode: Path):
    handlers = _handlers(topo)
    assert len(handlers) >= 11, handlers
    failed = {}
    for name, handler in handlers:
        result = import_handler(root, handler, bytecode=bytecode)
        if not result.ok:
            failed[name] = f"{handler}: {result.error}\n{result.detail or ''}"
    assert not failed, "handlers that do not import on the Lambda runtime:\n" + "\n".join(
        f"- {n}: {e}" for n, e in failed.items())


@pytest.mark.timeout(900)
def test_the_mlflow_client_is_the_skinny_one_and_its_rest_calls_work(
        root: LambdaRoot, built: lp.LambdaArtifacts, bytecode: Path):
    """validate-strategy's registry calls, with the layer's client, against a stand-in answering
    as MLflow's REST API does (lambda_runtime.py)."""
    with zipfile.ZipFile(built.layer.path) as zf:
        names = zf.namelist()
    dists = {n.split("/")[1].split("-")[0] for n in names if n.endswith(".dist-info/METADATA")}
    assert "mlflow_skinny" in dists and "mlflow" not in dists, sorted(dists)
    # The full MLflow's heavy dependencies are not in the layer.
    assert not {"pandas", "scipy", "pyarrow", "sqlalchemy"} & dists
    result = import_handler(root, "tradai.lambdas.validate_strategy.handler", bytecode=bytecode)
    assert result.ok, result.detail
    assert result.mlflow_client == "rest"


def test_the_clean_interpreter_really_lacks_the_dependencies(root: LambdaRoot):
    """Without the layer, the handlers fail as they did before it existed: the interpreter
    sees nothing of this environment."""
    result = import_handler(root, "tradai.lambdas.orphan_scanner.handler", with_layer=False)
    assert not result.ok
    assert result.error is not None and "ModuleNotFoundError" in result.error


def test_artifacts_hold_the_runtime_layout_and_fit_the_limits(built: lp.LambdaArtifacts):
    with zipfile.ZipFile(built.code.path) as zf:
        code = zf.namelist()
    with zipfile.ZipFile(built.layer.path) as zf:
        layer = zf.namelist()
    assert "tradai/lambdas/orphan_scanner.py" in code
    assert all(n.startswith("tradai/") and "__pycache__" not in n for n in code)
    assert all(n.startswith("python/") for n in layer)
    # The SDK is pinned in the layer (the runtime's own changes without notice).
    assert "python/boto3/__init__.py" in layer and "python/botocore/__init__.py" in layer
    total = built.code.unzipped + built.layer.unzipped
    assert total <= lp.UNZIPPED_LIMIT and built.layer.zipped <= lp.ZIPPED_DIRECT_LIMIT


def test_a_second_build_reuses_the_same_bytes(built: lp.LambdaArtifacts):
    again = lp.build_artifacts(built.code.path.parent)
    assert again == built  # same paths (named by their inputs) and sizes


def test_the_code_zip_is_reproducible(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = lp._code_zip(tmp_path / "a")
    b = lp._code_zip(tmp_path / "b")
    assert a.path.name == b.path.name and a.path.read_bytes() == b.path.read_bytes()


# -- the limits, refused before anything is declared -----------------------------------------
def _fake(code_mb: float, layer_mb: float, layer_zipped_mb: float = 20) -> lp.LambdaArtifacts:
    return lp.LambdaArtifacts(
        code=lp.Archive(Path("code-x.zip"), int(0.3 * MB), int(code_mb * MB)),
        layer=lp.Archive(Path("layer-x.zip"), int(layer_zipped_mb * MB), int(layer_mb * MB)))


@pytest.mark.parametrize(("artifacts", "extra", "message"), [
    (_fake(1, 249.5), (), r"is 250\.5 MB unzipped, over Lambda's 250\.0 MB"),
    (_fake(1, 60, layer_zipped_mb=51), (), r"layer-x\.zip is 51\.0 MB zipped, over Lambda's "
                                           r"50\.0 MB for a direct upload"),
    (_fake(1, 60), ("arn:a", "arn:b", "arn:c", "arn:d", "arn:e"),
     r"5 layers plus the dependency layer make 6, over Lambda's 5"),
])
def test_limits(artifacts: lp.LambdaArtifacts, extra: tuple[str, ...], message: str):
    with pytest.raises(LambdaPackageError, match=message):
        lp.check_limits(artifacts, extra)


def test_limits_at_the_boundary_pass():
    lp.check_limits(_fake(0, 250), ("a", "b", "c", "d"))


def test_a_layer_over_the_limit_stops_the_program_before_any_resource(
        topo: Topology, settings: Any):
    # What the full `mlflow` in the lock would do: the layer alone is over 250 MB.
    with patch.object(lp, "build_artifacts", return_value=_fake(0.7, 420, 45)):
        _deploy_fails(topo, settings, LambdaPackageError, r"over Lambda's 250\.0 MB")


def test_a_lock_that_cannot_be_installed_names_the_lock(tmp_path: Path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("not a requirement ===\n")  # refused while parsing: no download
    with pytest.raises(LambdaPackageError, match="building the Lambda dependency layer from"):
        lp.build_artifacts(tmp_path / "build", lock=lock)


# -- what the program declares ---------------------------------------------------------------
def test_every_function_runs_the_code_zip_with_the_dependency_layer(deployed: Deployed):
    [layer] = deployed.of_type(LAYER)
    assert layer.inputs["compatibleRuntimes"] == [lp.RUNTIME]
    assert layer.inputs["compatibleArchitectures"] == [lp.ARCHITECTURE]
    artifacts = lp.build_artifacts()
    functions = deployed.of_type(FUNCTION)
    assert {f.name for f in functions} == {deployed.name(f.name) for f in deployed.lambdas}
    for fn in functions:
        assert fn.inputs["layers"][0] == layer.arn, fn.name
        assert fn.inputs["runtime"] == lp.RUNTIME
        assert fn.inputs["architectures"] == [lp.ARCHITECTURE]
        assert Path(fn.inputs["code"].path) == artifacts.code.path, fn.name
