"""The seed's process, started before MLflow answers (``python -m tradai_sim.cloud.seed.runner``).

It does the slow part at once: imports the platform's ``tradai.registry.seed`` (the MLflow
client, boto3; several seconds of CPU), reads the examples and builds the AWS clients. Then it
waits for one line on stdin: a JSON object of environment variables (where MLflow is, the
configs bucket), given once MLflow is healthy; with them it runs the seed as
``python -m tradai.registry.seed`` would and prints the same JSON line. End of input before
that line (the part stopped, the cloud died): exit 3, nothing done.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

NOT_STARTED = 3


def main() -> int:
    import boto3

    from tradai.registry import seed
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore
    from tradai.registry.settings import RegistrySettings

    examples = seed.load_examples()
    for ex in examples:  # the files are read again by seed(); this warms the page cache
        ex.config.read_bytes()
        ex.source.read_bytes()
    # Service models loaded and cached by the default session: the clients built later (the
    # config store's, the credentials' secret read) are then quick to make.
    for service in ("s3", "secretsmanager"):
        boto3.client(service)
    line = sys.stdin.readline()
    if not line.strip():
        return NOT_STARTED
    os.environ.update({str(k): str(v) for k, v in json.loads(line).items()})
    settings = RegistrySettings()
    adapter = MLflowAdapter(settings.require_mlflow_url(),
                            ConfigStore.from_settings(settings.require_configs_bucket()))
    results = seed.seed(adapter, examples)
    print(json.dumps({"results": [asdict(r) for r in results]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
