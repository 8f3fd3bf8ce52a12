"""Parameter and response normalisation for Step Functions' optimised integrations.

moto's vendored ASL interpreter stubs out ``StateTaskService._normalise_parameters`` and
``_normalise_response``. Integrations whose API is camelCase (``ecs:runTask``) then send
``Cluster`` where botocore wants ``cluster`` and fail with ``States.Runtime: 'Cluster'``.
As in LocalStack, the operation's botocore shapes drive both directions: PascalCase ASL
parameters become the API's member names, and the response's members become PascalCase,
which is what AWS Step Functions hands to the state's output.

Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, ServiceModel

log = logging.getLogger(__name__)


def _snake(name: str) -> str:
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    return str(camel_to_snake_case(name))


@functools.lru_cache(maxsize=64)
def _service_model(service: str) -> ServiceModel | None:
    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return None


@functools.lru_cache(maxsize=512)
def operation_model(service: str, action: str) -> OperationModel | None:
    """The botocore operation for ``action`` in any casing (``runTask``, ``run_task``)."""
    model = _service_model(service)
    if model is None:
        return None
    wanted = _snake(action)
    for name in model.operation_names:
        if _snake(name) == wanted:
            return model.operation_model(name)
    return None


def _operation(task_state: Any, service: str | None, action: str | None) -> OperationModel | None:
    boto_service = task_state._get_boto_service_name(boto_service_name=service)
    boto_action = task_state._get_boto_service_action(service_action_name=action)
    op = operation_model(boto_service, boto_action)
    if op is None:
        # Leave the value as it is, which is what moto did before: never break a call that
        # worked without normalisation.
        log.warning("no botocore operation for %s:%s; not normalised", boto_service,
                    boto_action)
    return op


def normalise_parameters(
    self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """Replaces ``StateTaskService._normalise_parameters`` (in place, like the original)."""
    op = _operation(self, boto_service_name, service_action_name)
    if op is not None and op.input_shape is not None:
        self._to_boto_request(parameters, op.input_shape)


def normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """Replaces ``StateTaskService._normalise_response`` (in place, like the original)."""
    if not isinstance(response, dict):
        return
    op = _operation(self, boto_service_name, service_action_name)
    if op is not None and op.output_shape is not None:
        self._from_boto_response(response, op.output_shape)
    _timestamps_to_epoch_millis(response)


def _timestamps_to_epoch_millis(value: Any) -> Any:
    """botocore parses timestamps into datetimes, which the execution's JSON output cannot
    hold (moto's DescribeExecution fails with a 500); AWS gives epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        for k, v in value.items():
            value[k] = _timestamps_to_epoch_millis(v)
    elif isinstance(value, list):
        value[:] = [_timestamps_to_epoch_millis(v) for v in value]
    return value
