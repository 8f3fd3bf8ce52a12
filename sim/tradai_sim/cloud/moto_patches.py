"""The one record of what the local cloud changes inside moto, and why.

moto is pinned exactly (pyproject). Each entry names the patched attribute and the parameters
its original had when the patch was written; ``tests/unit/test_moto_patches.py`` fails loudly
when the installed moto no longer matches, before anything behaves subtly wrong.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PINNED_MOTO = "5.2.5"


@dataclass(frozen=True)
class Patch:
    target: str  # "module:Class.attribute"
    why: str
    # replace: the new function; wrap: a factory taking the original and returning the new one
    make: Callable[..., Any]
    wrap: bool
    original_params: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        """Identifies this patch among the ones applied to the same attribute."""
        return self.target, self.why

    def resolve(self) -> tuple[Any, str, Any]:
        module_name, _, attr_path = self.target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, attr = attr_path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        return owner, attr, getattr(owner, attr)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """Import the patch implementation only when it is applied."""

    def make(*args: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args) if args else getattr(
            importlib.import_module(module), name
        )

    return make


_LAMBDA = "tradai_sim.cloud.lambda_runtime.moto_adapter"
_ALARMS = "tradai_sim.cloud.alarms.moto_hooks"
_FIS = "tradai_sim.cloud.fis.moto_hooks"
_REDRIVE = "tradai_sim.cloud.sqs_redrive.moto_hooks"
_INDEX = "tradai_sim.cloud.sqs_index.moto_hooks"
_SFN_WAITS = "tradai_sim.cloud.stepfunctions.waits"
_STATE = "tradai_sim.cloud.state_indexes"
_RDS = "tradai_sim.cloud.rds.moto_hooks"
_HOT = "tradai_sim.cloud.moto_hot_paths"

_SFN_ECS = "tradai_sim.cloud.stepfunctions.ecs_sync"
# Every moto module that binds extract_json by name (`from ...json_path import extract_json`
# or a star import) keeps the unpatched function, so each site is patched.
_SFN_EXTRACT_JSON_SITES = (
    "asl.utils.json_path",
    "asl.component.common.string.string_expression",
    "asl.component.intrinsic.argument.argument",
    "asl.component.state.choice.comparison.operator.factory",  # a star import (unused)
    "asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "asl.component.state.choice.comparison.operator.implementations.numeric",
    "asl.component.state.choice.comparison.operator.implementations.string_operators",
    "asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "asl.eval.states",
)

def _listed_once(original: Callable[[], Any]) -> Callable[[], frozenset[str]]:
    """moto's server lists its package directory (a stat per module) on every request to find
    the backend; the list never changes while it runs."""
    modules = frozenset(original())

    def list_of_moto_modules() -> frozenset[str]:
        return modules

    return list_of_moto_modules


# The same answers for less work (moto_hot_paths.py and dynamodb_json.py, found by a profile of
# the gateway's submissions); benchmarks/bench_emulator_calls.py measures them against moto's.
HOT_PATH_PATCHES: list[Patch] = [
    Patch(
        "moto.core.parse:BaseJSONParser._parse_structure",
        "moto walks the input shape for every attribute of a DynamoDB item it is sent; a "
        "plain AttributeValue parses to itself",
        _lazy("tradai_sim.cloud.dynamodb_json", "parse_structure"),
        wrap=True,
        original_params=("self", "shape", "value"),
    ),
    *(Patch(
        f"{module}:camelcase_to_underscores",
        "a pure conversion of short names, redone about 80 times per SendMessage (SQS's "
        "Queue.attributes) and once per response; cached",
        _lazy(_HOT, "cached_camelcase"),
        wrap=True,
        original_params=("argument",),
    ) for module in ("moto.core.responses", "moto.sqs.models")),
    Patch(
        "moto.core.responses:method_names_from_class",
        "moto lists the response class's functions with inspect.getmembers on every request; "
        "listed once per class",
        _lazy(_HOT, "cached_method_names"),
        wrap=True,
        original_params=("clazz",),
    ),
    Patch(
        "moto.dynamodb.models.dynamo_type:Item.__init__",
        "moto sums the item's size again for every attribute it sets; summed once, same limit",
        _lazy(_HOT, "item_init"),
        wrap=True,
        original_params=("self", "hash_key", "range_key", "attrs"),
    ),
    Patch(
        "moto.moto_api._internal.moto_random:MotoRandom.get_random_string",
        "a request id drawn a character per call; drawn in one call from the same generator",
        _lazy(_HOT, "random_string"),
        wrap=True,
        original_params=("self", "length", "include_digits", "lower_case"),
    ),
    Patch(
        "moto.sqs.models:generate_receipt_handle",
        "a receipt handle drawn a character per call; drawn in one call",
        _lazy(_HOT, "receipt_handle"),
        wrap=True,
        original_params=(),
    ),
]


PATCHES: list[Patch] = [
    # -- the server (every request) ----------------------------------------------------------
    Patch(
        "moto.core.serialize:BaseJSONSerializer._serialize",
        "moto walks the output shape for every attribute of every DynamoDB item it returns "
        "(most of a 50-item Query's time); an item already in DynamoDB JSON is written as is",
        _lazy("tradai_sim.cloud.dynamodb_json", "serialize"),
        wrap=True,
        original_params=("self", "serialized", "value", "shape", "key"),
    ),
    Patch(
        "moto.backends:list_of_moto_modules",
        "moto's server lists its package directory on every request (about a sixth of the "
        "emulator's time under SQS load); the modules are listed once",
        _listed_once,
        wrap=True,
        original_params=(),
    ),
    *HOT_PATH_PATCHES,
    # -- RDS (rds/) --------------------------------------------------------------------------
    Patch(
        "moto.rds.models:DBInstance.address",
        "moto answers a made-up endpoint address; the local instance is a real PostgreSQL "
        "server whose address DescribeDBInstances must give",
        _lazy(_RDS, "db_instance_address"),
        wrap=True,
        original_params=("self",),
    ),
    # -- Lambda runtime (lambda_runtime/) ---------------------------------------------------
    Patch(
        "moto.awslambda.models:LambdaFunction.invoke",
        "Lambda code runs only in Docker in moto; run the real handler in a worker process",
        _lazy(_LAMBDA, "lambda_function_invoke"),
        wrap=False,
        original_params=("self", "body", "request_headers", "response_headers"),
    ),
    Patch(
        "moto.sns.models:Subscription.publish",
        "SNS invokes Lambda subscribers asynchronously with a real SNS event, not inline",
        _lazy(_LAMBDA, "sns_subscription_publish"),
        wrap=True,
        original_params=("self", "message", "message_id", "subject", "message_attributes",
                         "group_id", "deduplication_id", "message_structure"),
    ),
    Patch(
        "moto.awslambda.models:LambdaFunction.__init__",
        "moto drops DeadLetterConfig; the async invoker sends discarded events to it",
        _lazy(_LAMBDA, "lambda_function_init"),
        wrap=True,
        original_params=("self", "account_id", "spec", "region", "version"),
    ),
    Patch(
        "moto.awslambda.models:LambdaFunction.update_configuration",
        "UpdateFunctionConfiguration may set or clear DeadLetterConfig; moto ignores it",
        _lazy(_LAMBDA, "lambda_function_update_configuration"),
        wrap=True,
        original_params=("self", "config_updates"),
    ),
    Patch(
        "moto.awslambda.models:LambdaFunction.get_configuration",
        "GetFunctionConfiguration reports DeadLetterConfig on AWS",
        _lazy(_LAMBDA, "lambda_function_get_configuration"),
        wrap=True,
        original_params=("self", "on_create"),
    ),
    Patch(
        "moto.awslambda.models:LambdaBackend.put_function_event_invoke_config",
        "PutFunctionEventInvokeConfig replaces the configuration on AWS; moto appends and "
        "keeps the first",
        _lazy(_LAMBDA, "put_function_event_invoke_config"),
        wrap=True,
        original_params=("self", "function_name", "config"),
    ),
    Patch(
        "moto.awslambda.models:LambdaBackend.update_function_event_invoke_config",
        "UpdateFunctionEventInvokeConfig changes only the settings given; moto replaces all",
        _lazy(_LAMBDA, "update_function_event_invoke_config"),
        wrap=True,
        original_params=("self", "function_name", "config"),
    ),
    # -- SQS event-source mappings (event_sources/) -----------------------------------------
    Patch(
        "moto.awslambda.models:LambdaBackend.create_event_source_mapping",
        "moto invokes inside send_message; our pollers deliver with receive counts and DLQ; "
        "Lambda refuses an SQS BatchSize/window combination it cannot run",
        _lazy(_LAMBDA, "create_event_source_mapping"),
        wrap=True,
        original_params=("self", "spec"),
    ),
    Patch(
        "moto.awslambda.models:LambdaBackend.update_event_source_mapping",
        "Lambda refuses an SQS mapping's BatchSize/window combination it cannot run; moto "
        "stores it",
        _lazy(_LAMBDA, "update_event_source_mapping"),
        wrap=True,
        original_params=("self", "uuid", "spec"),
    ),
    # -- Step Functions (stepfunctions/) ----------------------------------------------------
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service:StateTaskService._normalise_parameters",
        "stubbed in moto: camelCase APIs (ecs:runTask) get PascalCase ASL keys; use botocore",
        _lazy("tradai_sim.cloud.stepfunctions.normalise", "normalise_parameters"),
        wrap=False,
        original_params=("self", "parameters", "boto_service_name", "service_action_name"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service:StateTaskService._normalise_response",
        "stubbed in moto: AWS returns the integration's response with PascalCase members",
        _lazy("tradai_sim.cloud.stepfunctions.normalise", "normalise_response"),
        wrap=False,
        original_params=("self", "response", "boto_service_name", "service_action_name"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service_ecs:StateTaskServiceEcs._build_sync_resolver",
        "moto's runTask.sync succeeds whatever the exit code; AWS fails with States.TaskFailed",
        _lazy(_SFN_ECS, "build_sync_resolver"),
        wrap=True,
        original_params=("self", "env", "resource_runtime_part", "normalised_parameters",
                         "state_credentials"),
    ),
    # -- Step Functions waiting on the simulated clock (stepfunctions/waits.py) ----------
    Patch(
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"
        ":WaitFunction._wait_interval",
        "Wait states are pure waiting: they pass in simulated time (the ASL is deployed as "
        "written, not rewritten with scaled seconds)",
        _lazy(_SFN_WAITS, "wait_interval"),
        wrap=False,
        original_params=("self", "env", "wait_seconds"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp"
        ":Timestamp._get_wait_seconds",
        "a Wait until a Timestamp counts from the simulated now, not the wall clock",
        _lazy(_SFN_WAITS, "timestamp_wait_seconds"),
        wrap=True,
        original_params=("self", "env"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
        ":RetrierDecl._eval_body",
        "the interval between Retry attempts is back-off (waiting): simulated time",
        _lazy(_SFN_WAITS, "retrier_eval_body"),
        wrap=False,
        original_params=("self", "env"),
    ),
    # moto's JSONPath fix reaches every module that imported extract_json by name
    # (tests/unit/test_sfn_json_path_sites.py finds them all).
    *(
        Patch(
            f"moto.stepfunctions.parser.{site}:extract_json",
            "moto returns [v] for a definite path through an index ($.A[0].B); AWS returns v",
            _lazy("tradai_sim.cloud.stepfunctions.json_path", "extract_json"),
            wrap=True,
            original_params=("path", "data"),
        )
        for site in _SFN_EXTRACT_JSON_SITES
    ),
    Patch(
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend.start_execution",
        "an unnamed execution is named 'None' in moto, so the second one already exists",
        _lazy("tradai_sim.cloud.stepfunctions.executions", "start_execution"),
        wrap=True,
        original_params=("self", "state_machine_arn", "name", "execution_input",
                         "trace_header"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl"
        ":ErrorEqualsDecl._eval_body",
        "States.ALL matches every error in moto; AWS: it cannot catch States.Runtime or "
        "States.DataLimitExceeded, and States.Runtime is never retried or caught",
        _lazy("tradai_sim.cloud.stepfunctions.error_matching", "error_equals_eval_body"),
        wrap=False,
        original_params=("self", "env"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service_ecs:StateTaskServiceEcs._eval_service_task",
        "RunTask failures (no capacity) fail a .sync state with AmazonECS.Unknown; moto "
        "indexes the empty Tasks list (States.Runtime)",
        _lazy(_SFN_ECS, "eval_service_task"),
        wrap=False,
        original_params=("self", "env", "resource_runtime_part", "normalised_parameters",
                         "state_credentials"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service_ecs:StateTaskServiceEcs._eval_sync",
        "a .sync ECS task outlives its state's timeout or stopped execution in moto; Step "
        "Functions stops it (StopTask)",
        _lazy(_SFN_ECS, "eval_sync"),
        wrap=True,
        original_params=("self", "env", "sync_resolver", "timeout_seconds",
                         "callback_endpoint", "heartbeat_endpoint"),
    ),
    Patch(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
        ".state_task_service_ecs:StateTaskServiceEcs._from_error",
        "an ECS API error is States.Runtime in moto (uncatchable); AWS fails the state with "
        "ECS.AmazonECSException",
        _lazy(_SFN_ECS, "from_error"),
        wrap=True,
        original_params=("self", "env", "ex"),
    ),
    # -- ECS runtime (ecs/) -----------------------------------------------------------------
    Patch(
        "moto.ecs.models:EC2ContainerServiceBackend.run_task",
        "moto only records a task; place it in a subnet/AZ and start its container process",
        _lazy("tradai_sim.cloud.ecs.moto_adapter", "run_task"),
        wrap=True,
        original_params=("self", "cluster_str", "task_definition_str", "count", "overrides",
                         "started_by", "tags", "launch_type", "networking_configuration",
                         "group", "platform_version", "capacity_provider_strategy"),
    ),
    Patch(
        "moto.ecs.models:EC2ContainerServiceBackend.stop_task",
        "moto marks STOPPED at once; stop the process group (SIGTERM, SIGKILL after timeout)",
        _lazy("tradai_sim.cloud.ecs.moto_adapter", "stop_task"),
        wrap=True,
        original_params=("self", "cluster_str", "task_str", "reason"),
    ),
    Patch(
        "moto.ecs.responses:EC2ContainerServiceResponse.run_task",
        "moto always answers failures []; tasks that found no capacity (an AZ outage) are "
        "RunTask failures, as on AWS",
        _lazy("tradai_sim.cloud.ecs.moto_adapter", "run_task_response"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.ecs.responses:EC2ContainerServiceResponse.create_service",
        "moto drops healthCheckGracePeriodSeconds; the service keeps and returns it, and the "
        "scheduler ignores ELB health checks for that long after a task starts; moto drops "
        "capacityProviderStrategy (launchType EC2 instead): the service keeps it and its "
        "tasks are started with it",
        _lazy("tradai_sim.cloud.ecs.moto_adapter", "create_service_response"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.ecs.models:Task.advance",
        "moto advances a task one state per describe_tasks; the process decides its state",
        _lazy("tradai_sim.cloud.ecs.moto_adapter", "task_advance"),
        wrap=False,
        original_params=("self",),
    ),
    # -- Auto Scaling (autoscaling/) --------------------------------------------------------
    Patch(
        "moto.autoscaling.models:AutoScalingBackend.notify_terminate_instances",
        "moto replaces a terminated instance at once; replace it after the simulated delay",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "notify_terminate_instances"),
        wrap=True,
        original_params=("self", "instance_ids"),
    ),
    Patch(
        "moto.autoscaling.models:FakeAutoScalingGroup.replace_autoscaling_group_instances",
        "moto skips launch lifecycle hooks; hold new instances in Pending:Wait, run the hooks",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "replace_autoscaling_group_instances"),
        wrap=True,
        original_params=("self", "count_needed", "propagated_tags"),
    ),
    Patch(
        "moto.autoscaling.models:FakeAutoScalingGroup.active_instances",
        "moto counts only InService; a Pending:Wait instance is capacity too (no double launch)",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "active_instances"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.autoscaling.responses:AutoScalingResponse.put_lifecycle_hook",
        "moto drops the hook's NotificationMetadata (it names the target Lambda locally)",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "put_lifecycle_hook"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.autoscaling.responses:AutoScalingResponse.call_action",
        "complete_lifecycle_action / record_lifecycle_action_heartbeat are not implemented; "
        "set_instance_health only records the status (AWS terminates and replaces)",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "call_action"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.autoscaling.models:AutoScalingBackend.create_auto_scaling_group",
        "moto defaults HealthCheckGracePeriod to 300 s (and turns 0 into 300); the API's "
        "default is 0",
        _lazy("tradai_sim.cloud.autoscaling.moto_hooks", "create_auto_scaling_group"),
        wrap=True,
        original_params=("self", "name", "availability_zones", "desired_capacity", "max_size",
                         "min_size", "launch_config_name", "launch_template",
                         "vpc_zone_identifier", "default_cooldown", "health_check_period",
                         "health_check_type", "load_balancers", "target_group_arns",
                         "placement_group", "termination_policies", "tags",
                         "capacity_rebalance", "new_instances_protected_from_scale_in",
                         "instance_id", "mixed_instances_policy"),
    ),
    # -- EventBridge (scheduler/) -----------------------------------------------------------
    Patch(
        "moto.events.models:Rule.send_to_targets",
        "EventBridge rules (lifecycle events among them) can target Lambda: moto raises "
        "NotImplementedError, and matches schedule-only and disabled rules to every event",
        _lazy("tradai_sim.cloud.scheduler.moto_hooks", "send_to_targets"),
        wrap=True,
        original_params=("self", "original_event", "transform_input"),
    ),
    # -- Network (network/) ---------------------------------------------------------------
    Patch(
        "moto.ec2.models.route_tables:Route.state",
        "moto reports every route active; AWS shows a route to a stopped or terminated NAT "
        "instance as a blackhole",
        _lazy("tradai_sim.cloud.network.moto_routes", "route_state"),
        wrap=True,
        original_params=("self",),
    ),
    # -- Fault Injection Service (fis/) -----------------------------------------------------
    Patch(
        "moto.fis.models:FISBackend.create_experiment_template",
        "moto stores any template; FIS refuses unknown actions, bad targets and parameters",
        _lazy(_FIS, "create_experiment_template"),
        wrap=True,
        original_params=("self", "client_token", "description", "stop_conditions", "targets",
                         "actions", "role_arn", "tags", "log_configuration",
                         "experiment_options", "experiment_report_configuration"),
    ),
    Patch(
        "moto.fis.models:FISBackend.update_experiment_template",
        "moto stores any update; FIS validates the template as it would be after the update",
        _lazy(_FIS, "update_experiment_template"),
        wrap=True,
        original_params=("self", "id", "description", "stop_conditions", "targets", "actions",
                         "role_arn", "log_configuration", "experiment_options",
                         "experiment_report_configuration"),
    ),
    Patch(
        "moto.fis.models:FISBackend.start_experiment",
        "moto executes nothing; the local FIS executor runs the experiment's actions",
        _lazy(_FIS, "start_experiment"),
        wrap=True,
        original_params=("self", "client_token", "experiment_template_id",
                         "experiment_options", "tags"),
    ),
    Patch(
        "moto.fis.models:FISBackend.stop_experiment",
        "stopping must cancel pending actions and undo running ones before 'stopped'",
        _lazy(_FIS, "stop_experiment"),
        wrap=True,
        original_params=("self", "id"),
    ),
    Patch(
        "moto.fis.models:Experiment.to_dict",
        "moto's experiment jumps to completed; report the executor's experiment and actions",
        _lazy(_FIS, "experiment_to_dict"),
        wrap=True,
        original_params=("self", "tags"),
    ),
    Patch(
        "moto.fis.models:Experiment.to_summary_dict",
        "ListExperiments must show the executor's state, not moto's immediate completion",
        _lazy(_FIS, "experiment_to_summary_dict"),
        wrap=True,
        original_params=("self", "tags"),
    ),
    Patch(
        "moto.fis.models:Experiment.resolved_targets",
        "moto resolves only resourceArns; report what tags, filters and selection resolved",
        _lazy(_FIS, "resolved_targets"),
        wrap=True,
        original_params=("self",),
    ),
    # -- SQS at depth (sqs_index/): first of the Queue.add_message wraps, so innermost ------
    Patch(
        "moto.sqs.models:Queue.add_message",
        "moto compares a FIFO send's deduplication id with every queued message; SQS's cost "
        "does not grow with the queue: look up the messages with that id",
        _lazy(_INDEX, "queue_add_message"),
        wrap=True,
        original_params=("self", "message"),
    ),
    Patch(
        "moto.sqs.models:SQSBackend.receive_message",
        "moto lists every visible message and walks past the groups in flight on each "
        "receive; take the deliverable groups from an index in the same send order",
        _lazy(_INDEX, "receive_message"),
        wrap=True,
        original_params=("self", "queue_name", "count", "wait_seconds_timeout",
                         "visibility_timeout", "message_attribute_names"),
    ),
    Patch(
        "moto.sqs.models:Queue.delete_message",
        "moto searches every message's receipt handles and rebuilds the list on each delete; "
        "find the message by its receipt handle",
        _lazy(_INDEX, "queue_delete_message"),
        wrap=True,
        original_params=("self", "receipt_handle"),
    ),
    Patch(
        "moto.sqs.models:SQSBackend.change_message_visibility",
        "moto searches every message's receipt handles; find the message by its receipt "
        "handle and re-examine its group",
        _lazy(_INDEX, "change_message_visibility"),
        wrap=True,
        original_params=("self", "queue_name", "receipt_handle", "visibility_timeout"),
    ),
    Patch(
        "moto.sqs.models:Queue.approximate_number_of_messages",
        "moto counts visible messages by scanning the queue, for GetQueueAttributes and four "
        "times per SendMessage (Queue.attributes); the index keeps the count",
        _lazy(_INDEX, "approximate_number_of_messages"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.sqs.models:Queue.approximate_number_of_messages_delayed",
        "moto counts delayed messages by scanning the queue, for GetQueueAttributes and four "
        "times per SendMessage (Queue.attributes); the index keeps the count",
        _lazy(_INDEX, "approximate_number_of_messages_delayed"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.sqs.models:Queue.approximate_number_of_messages_not_visible",
        "moto counts in-flight messages by scanning the queue, for GetQueueAttributes and four "
        "times per SendMessage (Queue.attributes); the index keeps the count",
        _lazy(_INDEX, "approximate_number_of_messages_not_visible"),
        wrap=True,
        original_params=("self",),
    ),
    # -- SQS FIFO deduplication (sqs_fifo/); before the alarms and redrive wraps of ---------
    # Queue.add_message, so it runs innermost, after a DLQ move replaced the dedup id
    Patch(
        "moto.sqs.models:Queue.add_message",
        "moto forgets a dedup id once its message is deleted and times the interval in wall "
        "seconds; SQS remembers it 5 (simulated) minutes from the send",
        _lazy("tradai_sim.cloud.sqs_fifo.moto_hooks", "queue_add_message"),
        wrap=True,
        original_params=("self", "message"),
    ),
    # -- CloudWatch alarms (alarms/) and the SNS log (sns_log/) -------------------------------
    Patch(
        "moto.cloudwatch.models:CloudWatchBackend.put_metric_alarm",
        "a new alarm starts INSUFFICIENT_DATA in AWS (moto: OK); an update keeps its state",
        _lazy(_ALARMS, "put_metric_alarm"),
        wrap=True,
        original_params=("self", "name", "namespace", "metric_name", "comparison_operator",
                         "evaluation_periods", "period", "threshold", "statistic",
                         "description", "dimensions", "alarm_actions", "metric_data_queries",
                         "datapoints_to_alarm", "extended_statistic", "ok_actions",
                         "insufficient_data_actions", "unit", "actions_enabled",
                         "treat_missing_data", "evaluate_low_sample_count_percentile",
                         "threshold_metric_id", "rule", "tags"),
    ),
    Patch(
        "moto.cloudwatch.models:CloudWatchBackend.set_alarm_state",
        "AWS runs the new state's actions when SetAlarmState changes the state; moto runs none",
        _lazy(_ALARMS, "set_alarm_state"),
        wrap=True,
        original_params=("self", "alarm_name", "reason", "reason_data", "state_value"),
    ),
    Patch(
        "moto.cloudwatch.models:CloudWatchBackend.put_metric_data",
        "a datapoint without Timestamp is stamped on arrival: simulated time, not moto's wall",
        _lazy(_ALARMS, "put_metric_data"),
        wrap=True,
        original_params=("self", "namespace", "metric_data"),
    ),
    Patch(
        "moto.cloudwatch.responses:CloudWatchResponse.call_action",
        "DescribeAlarmHistory is not implemented in moto; serve the evaluator's history",
        _lazy(_ALARMS, "call_action"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.sqs.models:Queue.add_message",
        "ApproximateAgeOfOldestMessage counts from arrival in this queue (a DLQ move resets it)",
        _lazy(_ALARMS, "queue_add_message"),
        wrap=True,
        original_params=("self", "message"),
    ),
    # -- SQS dead-letter queue redrive (sqs_redrive/) ------------------------------------------
    Patch(
        "moto.sqs.responses:SQSResponse.call_action",
        "StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask are not "
        "implemented (HTTP 500); the redrive part serves them",
        _lazy(_REDRIVE, "call_action"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.sqs.models:Queue.add_message",
        "a move to a DLQ must remember the source queue and, into a FIFO DLQ, replace the "
        "deduplication id with the message id, as SQS does",
        _lazy(_REDRIVE, "queue_add_message"),
        wrap=True,
        original_params=("self", "message"),
    ),
    Patch(
        "moto.sqs.responses:SQSResponse.receive_message",
        "moto does not return the DeadLetterQueueSourceArn message system attribute",
        _lazy(_REDRIVE, "receive_message"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.sns.models:Topic.publish",
        "record every message a topic accepts, for /_sim/sns/published and tradai-sim alerts",
        _lazy("tradai_sim.cloud.sns_log.moto_hooks", "topic_publish"),
        wrap=True,
        original_params=("self", "message", "subject", "message_attributes", "group_id",
                         "deduplication_id", "message_structure"),
    ),
    # -- Costs that do not grow with stored state (state_indexes.py) ------------------------
    Patch(
        "moto.dynamodb.models.table:Table.query",
        "moto reads every item of the table for each Query (table or GSI); read the "
        "partition, or the items of the GSI hash value from an index",
        _lazy(_STATE, "table_query"),
        wrap=True,
        original_params=("self", "hash_key", "range_comparison", "range_objs", "limit",
                         "exclusive_start_key", "scan_index_forward",
                         "projection_expressions", "index_name", "consistent_read",
                         "filter_expression", "hash_key_conditions", "range_key_conditions",
                         "filter_kwargs"),
    ),
    Patch(
        "moto.dynamodb.models.table:Table.all_items",
        "inside a narrowed Query, the items are that Query's candidates",
        _lazy(_STATE, "table_all_items"),
        wrap=True,
        original_params=("self",),
    ),
    Patch(
        "moto.dynamodb.models.table:Table.put_item",
        "keep the Query index of the item's GSI hash values",
        _lazy(_STATE, "table_put_item"),
        wrap=True,
        original_params=("self", "item_attrs", "expected", "condition_expression",
                         "expression_attribute_names", "expression_attribute_values",
                         "overwrite", "return_values_on_condition_check_failure"),
    ),
    Patch(
        "moto.dynamodb.models.table:Table.delete_item",
        "keep the Query index of the item's GSI hash values",
        _lazy(_STATE, "table_delete_item"),
        wrap=True,
        original_params=("self", "hash_key", "range_key"),
    ),
    Patch(
        "moto.dynamodb.models:DynamoDBBackend.update_item",
        "UpdateItem changes the item in place: keep the Query index of its GSI hash values",
        _lazy(_STATE, "backend_update_item"),
        wrap=True,
        original_params=("self", "table_name", "key", "update_expression",
                         "expression_attribute_names", "expression_attribute_values",
                         "attribute_updates", "expected", "condition_expression",
                         "return_values_on_condition_check_failure"),
    ),
    Patch(
        "moto.ecs.models:EC2ContainerServiceBackend.run_task",
        "moto keeps every task it ran and walks them all on ListTasks and DescribeTasks; "
        "forget the oldest stopped tasks beyond KEEP_STOPPED (ECS shows them about an hour)",
        _lazy(_STATE, "ecs_run_task"),
        wrap=True,
        original_params=("self", "cluster_str", "task_definition_str", "count", "overrides",
                         "started_by", "tags", "launch_type", "networking_configuration",
                         "group", "platform_version", "capacity_provider_strategy"),
    ),
]


def installed_moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def check_patches() -> list[str]:
    """Every mismatch between the pinned expectations and the installed moto."""
    problems = []
    if installed_moto_version() != PINNED_MOTO:
        problems.append(f"moto {installed_moto_version()} installed, patches written for "
                        f"{PINNED_MOTO}")
    for patch in PATCHES:
        try:
            _, _, original = patch.resolve()
        except (ImportError, AttributeError) as exc:
            problems.append(f"{patch.target}: not found ({exc})")
            continue
        original = unpatched(original)
        if isinstance(original, property):  # a patched property: its getter's parameters
            original = original.fget
        params = tuple(inspect.signature(original).parameters)
        if params != patch.original_params:
            problems.append(f"{patch.target}: parameters {params}, expected "
                            f"{patch.original_params}")
    return problems


def apply_patches() -> None:
    problems = check_patches()
    if problems:
        raise RuntimeError("moto internals changed under the local cloud: " + "; ".join(problems))
    for patch in PATCHES:
        owner, attr, original = patch.resolve()
        applied = getattr(original, "__tradai_patches__", frozenset())
        if patch.key in applied:
            continue  # already applied in this process
        new = patch.make(original) if patch.wrap else patch.make()
        new.__tradai_original__ = original
        new.__tradai_patches__ = applied | {patch.key}
        setattr(owner, attr, new)


def unpatched(fn: Any) -> Any:
    """moto's own attribute under every patch applied to it (several parts may wrap one)."""
    while getattr(fn, "__tradai_original__", None) is not None:
        fn = fn.__tradai_original__
    return fn
