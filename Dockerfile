# syntax=docker/dockerfile:1
# The one image of the architecture: every ECS service (backend API, data collection, strategy
# service, MLflow) and the strategy container (backtest, hyperopt, dry-run, live). Which one a
# container is comes from its command and environment, exactly as the task definitions say
# (topology.yaml: `python -m <entrypoint>`, the mode in TRADAI_MODE / TRADING_MODE); the local
# cloud runs the same commands as processes (sim/tradai_sim/cloud/ecs/process.py).
#
#   docker build -t tradai-platform:0.1.0 .
#   docker build --target exchange-sim -t tradai-exchange-sim:0.1.0 .   # compose only
#
# No HEALTHCHECK: ECS and the ALB check health (the spec's health_path); compose declares its own.
# No secret is baked in: credentials come from Secrets Manager / the task role at run time.
#
# Base image pinned by version tag and by the digest of its multi-architecture index
# (python:3.11.14-slim-bookworm). The digest was read from public material, not pulled here:
# `docker buildx imagetools inspect python:3.11.14-slim-bookworm` shows the current one.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# -- builder: a virtualenv with the platform and its strategy engine, installed with uv -------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_NO_CACHE=1
# A compiler for any dependency without a wheel for this platform (builder stage only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m pip install uv==0.13.9
WORKDIR /src
COPY pyproject.toml README.md ./
COPY platform ./platform
# The image holds the platform only: the local cloud (sim/) and the Pulumi program (infra/) are
# not installed (setuptools finds no package in the empty folders).
RUN mkdir -p sim infra \
 && uv venv /opt/venv --python /usr/local/bin/python \
 && uv pip install --python /opt/venv/bin/python ".[strategy]"

# -- runtime: the venv on a slim base, as an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 tradai \
 && useradd --system --uid 10001 --gid tradai --home-dir /home/tradai --create-home \
      --shell /usr/sbin/nologin tradai \
 && install -d -o tradai -g tradai /home/tradai/mlflow
# (/home/tradai/mlflow exists owned by the user, so a named volume mounted there is writable.)
COPY --from=builder /opt/venv /opt/venv
# `python` in the task definitions' command is the venv's interpreter.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /home/tradai
USER 10001:10001
# ECS and compose always give the command; this default only documents the form.
CMD ["python", "-m", "tradai.services.backend_api"]

# -- exchange-sim: "the internet" for compose (never deployed) ----------------------------------
FROM runtime AS exchange-sim
COPY --chown=10001:10001 sim/tradai_sim/__init__.py /opt/sim/tradai_sim/__init__.py
COPY --chown=10001:10001 sim/tradai_sim/vpc/__init__.py sim/tradai_sim/vpc/marks.py /opt/sim/tradai_sim/vpc/
COPY --chown=10001:10001 sim/tradai_sim/exchange /opt/sim/tradai_sim/exchange
ENV PYTHONPATH=/opt/sim
USER 10001:10001
CMD ["python", "-m", "tradai_sim.exchange", "--host", "0.0.0.0", "--port", "9100"]
