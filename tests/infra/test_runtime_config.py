"""The one runtime configuration (``tradai.topology.runtime_config``), Pulumi side: under
Pulumi's mocks, every variable a settings class requires reaches each deployed function and
each container that reads it (which reads what: ``tests/settings_reads.py``, from the code's
imports). The local side is ``tests/unit/test_runtime_config.py``."""

from __future__ import annotations

import json
from typing import Any

from tests import settings_reads as reads
from tests.infra.conftest import Deployed
from tradai.topology.runtime_config import LAMBDA_ENV_LIMIT_BYTES, lambda_env_size

FN = "aws:lambda/function:Function"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"


def _environments(deployed: Deployed) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in deployed.topo.lambdas:
        for res in deployed.where(FN, name=deployed.name(f.name)):  # none: not deployed
            out[f.name] = res.inputs["environment"]["variables"]
    for name in [s.name for s in deployed.topo.services] + [
            t.name for t in deployed.topo.task_definitions]:
        [td] = deployed.where(TASK_DEF, family=deployed.name(name))
        [container] = json.loads(td.inputs["containerDefinitions"])
        out[name] = {e["name"]: e["value"] for e in container["environment"]}
    return out


def test_deployed_components_receive_every_variable_their_settings_require(
        deployed: Deployed):
    environments = _environments(deployed)
    # A function the program leaves out (no handler code yet) reads nothing.
    undeployed = {f.name for f in deployed.topo.lambdas if f.name not in environments}
    assert all(not reads.requirements(c) for c in reads.components(deployed.topo)
               if c.name in undeployed)
    assert reads.gaps(deployed.topo, environments) == []
    # What the review found missing on AWS (the backend answered 503) is there now.
    backend = environments["backend-api"]
    for key in ("TRADAI_QUEUE_BACKTEST_QUEUE", "TRADAI_TABLE_WORKFLOW_STATE",
                "TRADAI_MLFLOW_URL", "TRADAI_DATA_COLLECTION_URL"):
        assert backend[key], key
    # The pool and client its tokens come from (tradai.services.backend_api.auth.config):
    # without them the backend would list the account's pools, which its role may not.
    [pool] = deployed.of_type("aws:cognito/userPool:UserPool")
    [client] = deployed.of_type("aws:cognito/userPoolClient:UserPoolClient")
    assert backend["TRADAI_COGNITO_USER_POOL_ID"] == pool.id
    assert backend["TRADAI_COGNITO_CLIENT_ID"] == client.id


def test_function_environments_fit_lambdas_4kb(deployed: Deployed):
    """https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html: "The total
    size of all environment variables doesn't exceed 4 KB"; Lambda sets AWS_DEFAULT_REGION
    itself and refuses it."""
    for fn in deployed.of_type(FN):
        env = fn.inputs["environment"]["variables"]
        assert lambda_env_size(env) <= LAMBDA_ENV_LIMIT_BYTES, fn.name
        assert "AWS_DEFAULT_REGION" not in env, fn.name


def test_run_links_open_the_apis_mlflow_route(deployed: Deployed):
    """The strategy task's MLflow run links (``mlflow_public_url``) name the HTTP API's
    ``/mlflow`` route, which a browser can open (MLflow's basic auth, no JWT authorizer), not
    the Cloud Map or ALB names inside the VPC."""
    [api] = deployed.of_type("aws:apigatewayv2/api:Api")
    link = _environments(deployed)["strategy"]["TRADAI_MLFLOW_PUBLIC_URL"]
    assert link == f"https://{api.name}.mock/mlflow", link  # the mocks' apiEndpoint
    routes = [r.inputs for r in deployed.of_type("aws:apigatewayv2/route:Route")
              if r.inputs["routeKey"].startswith("GET /mlflow")]
    assert routes and all(r.get("authorizationType", "NONE") == "NONE" for r in routes), routes
