"""What every Lambda function runs: the ``tradai`` package as the function's code, and one
dependency layer installed from a lock (``infra/lambda/requirements.lock``).

The python3.11 runtime has boto3 and botocore and nothing else the handlers import
(Powertools, pydantic, httpx, the MLflow client), so the layer carries those, as Linux x86_64
wheels for CPython 3.11 whatever machine runs ``pulumi up``. It carries boto3 and botocore too,
at the version the tests run: the runtime's copies change without notice, and AWS recommends
packaging them (https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html, "Control the
dependencies in your function's deployment package"); the layer's urllib3 and dateutil would
otherwise shadow the ones the runtime's botocore was released with
(https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html: a ``python/`` directory at
the zip's root, manylinux2014_x86_64 wheels). The lock pins every package with its hashes; the
build installs exactly it (``uv pip install --require-hashes --no-deps``) from uv's cache, or
from PyPI on a cold cache. MLflow is the skinny client: the full ``mlflow`` (server, pandas,
scipy, pyarrow) is over the size limit below.

Both archives are zips written here (sorted entries, fixed times and modes), so their content,
and the hash Pulumi computes over it to decide whether to upload, depend only on the inputs;
they are kept under ``infra/build/lambda/`` named by the hash of their inputs, so a second
``pulumi preview`` reuses them. (Pulumi writes the entries into a zip of its own for the
upload, deflated as these are: the zipped size checked here is that of this zip.)

Sizes are checked against AWS's limits before any resource is declared
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): the function and
all its layers at most 250 MB unzipped, at most 5 layers
(https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html), and 50 MB zipped for an
archive uploaded directly rather than through S3, as this program uploads them.

Compile the lock again after changing ``requirements.in``:
``python -m tradai_infra.lambda_package lock``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import tradai
from tradai_infra.errors import LambdaPackageError

RUNTIME = "python3.11"
ARCHITECTURE = "x86_64"
PYTHON_VERSION = "3.11"
# uv's name for pip's --platform manylinux2014_x86_64: glibc 2.17+, which Amazon Linux 2023 has.
PYTHON_PLATFORM = "x86_64-manylinux2014"
LOCK_DIR = Path(__file__).resolve().parents[1] / "lambda"
LOCK = LOCK_DIR / "requirements.lock"
REQUIREMENTS = LOCK_DIR / "requirements.in"
BUILD_DIR = Path(__file__).resolve().parents[1] / "build" / "lambda"

# AWS's quotas, as GetAccountSettings reports them (CodeSizeUnzipped, CodeSizeZipped).
UNZIPPED_LIMIT = 262_144_000  # 250 MB: function code and all its layers, extracted
ZIPPED_DIRECT_LIMIT = 52_428_800  # 50 MB: an archive uploaded directly, not through S3
MAX_LAYERS = 5
_BUILD_TIMEOUT_S = 900
LOCK_HEADER = ("# The Lambda dependency layer (tradai_infra.lambda_package), generated from "
               "requirements.in by\n#   python -m tradai_infra.lambda_package lock\n"
               f"# for CPython {PYTHON_VERSION} on {PYTHON_PLATFORM}. Do not edit.\n")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


@dataclass(frozen=True)
class Archive:
    """A zip as it is uploaded: ``zipped`` bytes on disk, ``unzipped`` bytes extracted."""

    path: Path
    zipped: int
    unzipped: int

    @classmethod
    def of(cls, path: Path) -> Archive:
        with zipfile.ZipFile(path) as zf:
            unzipped = sum(i.file_size for i in zf.infolist())
        return cls(path=path, zipped=path.stat().st_size, unzipped=unzipped)


@dataclass(frozen=True)
class LambdaArtifacts:
    code: Archive  # ``tradai/`` at the root: /var/task/tradai/...
    layer: Archive  # ``python/`` at the root: /opt/python/...


def build_artifacts(build_dir: Path | None = None, lock: Path = LOCK) -> LambdaArtifacts:
    """The function code and the dependency layer, built (or reused) under ``build_dir``."""
    build_dir = build_dir or BUILD_DIR
    build_dir.mkdir(parents=True, exist_ok=True)
    return LambdaArtifacts(code=_code_zip(build_dir), layer=_layer_zip(build_dir, lock))


def check_limits(artifacts: LambdaArtifacts, extra_layers: tuple[str, ...] = ()) -> None:
    """Refuse, naming the archive and the limit, what Lambda would refuse at upload or at
    CreateFunction. ``extra_layers`` (``tradai:lambdaLayers``) are ARNs whose size is not
    known here: only their count is checked."""
    layers = 1 + len(extra_layers)
    if layers > MAX_LAYERS:
        raise LambdaPackageError(
            f"tradai:lambdaLayers: {len(extra_layers)} layers plus the dependency layer make "
            f"{layers}, over Lambda's {MAX_LAYERS} layers per function")
    for what, archive in (("function code", artifacts.code),
                          ("dependency layer", artifacts.layer)):
        if archive.zipped > ZIPPED_DIRECT_LIMIT:
            raise LambdaPackageError(
                f"the {what} {archive.path.name} is {_mb(archive.zipped)} zipped, over Lambda's "
                f"{_mb(ZIPPED_DIRECT_LIMIT)} for a direct upload (the way this program "
                f"uploads it; through S3 is not implemented)")
    total = artifacts.code.unzipped + artifacts.layer.unzipped
    if total > UNZIPPED_LIMIT:
        raise LambdaPackageError(
            f"function code ({_mb(artifacts.code.unzipped)}) plus the dependency layer built "
            f"from {LOCK.name} ({_mb(artifacts.layer.unzipped)}) is {_mb(total)} unzipped, "
            f"over Lambda's {_mb(UNZIPPED_LIMIT)} for a function and its layers: drop "
            f"packages from the lock (MLflow's client is mlflow-skinny, not mlflow)")


def package_lambdas(extra_layers: tuple[str, ...] = (),
                    build_dir: Path | None = None) -> LambdaArtifacts:
    """What the program calls before declaring anything: build, then check the limits."""
    artifacts = build_artifacts(build_dir)
    check_limits(artifacts, extra_layers)
    return artifacts


# -- the function code -----------------------------------------------------------------------
def _code_files() -> list[tuple[str, Path]]:
    root = Path(tradai.__file__).resolve().parent
    files = [(f"tradai/{p.relative_to(root).as_posix()}", p) for p in root.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return sorted(files)


def _code_zip(build_dir: Path) -> Archive:
    files = _code_files()
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    target = build_dir / f"code-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        _write_zip(target, files)
    return Archive.of(target)


# -- the dependency layer --------------------------------------------------------------------
def _layer_zip(build_dir: Path, lock: Path) -> Archive:
    if not lock.is_file():
        raise LambdaPackageError(f"the Lambda dependency lock {lock} does not exist")
    key = hashlib.sha256(f"{PYTHON_VERSION} {PYTHON_PLATFORM}\n".encode() + lock.read_bytes())
    target = build_dir / f"layer-{key.hexdigest()[:16]}.zip"
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=build_dir, prefix=".layer-") as tmp:
            site = Path(tmp) / "python"
            _install(lock, site)
            files = sorted((f"python/{p.relative_to(site).as_posix()}", p)
                           for p in site.rglob("*") if p.is_file())
            _write_zip(target, files)
    return Archive.of(target)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin  # the uv wheel (tradai[infra])
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise LambdaPackageError("building the Lambda dependency layer needs uv "
                                     "(pip install uv)") from None
        return found


def _install(lock: Path, target: Path) -> None:
    cmd = [uv_binary(), "pip", "install", "--quiet", "--target", str(target),
           "--python-version", PYTHON_VERSION, "--python-platform", PYTHON_PLATFORM,
           "--only-binary", ":all:", "--no-deps", "--require-hashes", "-r", str(lock)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise LambdaPackageError(f"building the Lambda dependency layer from {lock} took over "
                                 f"{_BUILD_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise LambdaPackageError(f"building the Lambda dependency layer from {lock} failed: "
                                 f"{done.stderr.strip()[-2000:]}")


# -- zips ------------------------------------------------------------------------------------
def _write_zip(target: Path, files: list[tuple[str, Path]]) -> None:
    """Sorted entries with fixed times and modes: the same inputs give the same bytes.
    Written beside the target and renamed into place, so a concurrent build (two test
    workers) never reads half a zip."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name, path in files:
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                # Lambda needs files world-readable; keep whether a file is executable.
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from other users of the tree
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


# -- the lock --------------------------------------------------------------------------------
def compile_lock() -> None:
    """requirements.in -> requirements.lock, constrained to the versions this environment
    runs (the tests import the handlers against them), for the Lambda platform, with hashes."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        frozen = subprocess.run([uv_binary(), "pip", "freeze", "--python", sys.executable],
                                capture_output=True, text=True, check=True).stdout
        constraints.write("\n".join(line for line in frozen.splitlines()
                                    if "==" in line and " @ " not in line))
        constraints.flush()
        cmd = [uv_binary(), "pip", "compile", str(REQUIREMENTS), "-o", str(LOCK),
               "--generate-hashes", "--no-header", "--no-annotate", "--quiet",
               "--python-version", PYTHON_VERSION, "--python-platform", PYTHON_PLATFORM,
               "-c", constraints.name]
        subprocess.run(cmd, check=True)
    LOCK.write_text(LOCK_HEADER + LOCK.read_text())


if __name__ == "__main__":
    if sys.argv[1:] != ["lock"]:
        sys.exit("usage: python -m tradai_infra.lambda_package lock")
    compile_lock()
