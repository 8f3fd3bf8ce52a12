"""The moto side of FIS: the patched backend methods (listed in ``moto_patches.PATCHES``).

moto stores templates and experiments and executes nothing (its experiments jump to
``completed``). Here templates are validated as FIS validates them (ValidationException),
StartExperiment hands the experiment to the executor, StopExperiment stops it, and every view
of an experiment (Get/List/Stop, resolved targets) reports the executor's state. Until the
part installs the executor, experiments behave as moto ships them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tradai.faults.validation import validate_template
from tradai_sim.cloud.fis.executor import Executor

_executor: Executor | None = None

RUNTIME_KEYS = ("state", "startTime", "endTime")  # what moto writes into stored actions


def install(executor: Executor | None) -> None:
    global _executor
    _executor = executor


def _validation_error(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("ValidationException", message)
    error.code = 400
    return error


def _check(body: dict[str, Any]) -> None:
    issues = validate_template({k: v for k, v in body.items() if v is not None})
    if issues:
        raise _validation_error("; ".join(map(str, issues))[:2000])


def create_experiment_template(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_experiment_template(self: Any, client_token: str | None, description: str,
                                   stop_conditions: list[dict[str, Any]],
                                   targets: dict[str, Any] | None, actions: dict[str, Any],
                                   role_arn: str, tags: dict[str, str] | None = None,
                                   log_configuration: dict[str, Any] | None = None,
                                   experiment_options: dict[str, Any] | None = None,
                                   experiment_report_configuration: dict[str, Any] | None = None,
                                   ) -> dict[str, Any]:
        _check({"description": description, "stopConditions": stop_conditions,
                "targets": targets, "actions": actions, "roleArn": role_arn, "tags": tags,
                "logConfiguration": log_configuration, "experimentOptions": experiment_options})
        return original(self, client_token, description, stop_conditions, targets, actions,
                        role_arn, tags, log_configuration, experiment_options,
                        experiment_report_configuration)

    return create_experiment_template


def update_experiment_template(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_experiment_template(self: Any, id: str, description: str | None = None,
                                   stop_conditions: list[dict[str, Any]] | None = None,
                                   targets: dict[str, Any] | None = None,
                                   actions: dict[str, Any] | None = None,
                                   role_arn: str | None = None,
                                   log_configuration: dict[str, Any] | None = None,
                                   experiment_options: dict[str, Any] | None = None,
                                   experiment_report_configuration: dict[str, Any] | None = None,
                                   ) -> dict[str, Any]:
        current = self.experiment_templates.get(id)
        if current is not None:  # the template as it would be after the update
            _check({
                "description": description if description is not None else current.description,
                "stopConditions": stop_conditions if stop_conditions is not None
                else current.stop_conditions,
                "targets": targets if targets is not None else current.targets,
                "actions": actions if actions is not None else current.actions,
                "roleArn": role_arn if role_arn is not None else current.role_arn,
                "experimentOptions": {**(current.experiment_options or {}),
                                      **(experiment_options or {})} or None})
        return original(self, id, description, stop_conditions, targets, actions, role_arn,
                        log_configuration, experiment_options, experiment_report_configuration)

    return update_experiment_template


def start_experiment(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_experiment(self: Any, client_token: str | None, experiment_template_id: str,
                         experiment_options: dict[str, Any] | None = None,
                         tags: dict[str, str] | None = None) -> dict[str, Any]:
        result = original(self, client_token, experiment_template_id, experiment_options, tags)
        executor = _executor
        if executor is None:
            return result
        experiment = self.experiments[result["id"]]
        if executor.get(experiment.id) is None:
            executor.start(experiment.id, experiment_template_id, _definition(experiment),
                           self.tagger.get_tag_dict_for_resource(experiment.arn))
        return experiment.to_dict(tags=self.tagger.get_tag_dict_for_resource(experiment.arn))

    return start_experiment


def _definition(experiment: Any) -> dict[str, Any]:
    """The experiment's own copy of the template, without what moto writes into it."""
    actions = {name: {k: v for k, v in act.items() if k not in RUNTIME_KEYS}
               for name, act in copy.deepcopy(experiment.actions).items()}
    options = experiment.experiment_options or {}
    return {"targets": copy.deepcopy(experiment.targets), "actions": actions,
            "stopConditions": copy.deepcopy(experiment.stop_conditions),
            "roleArn": experiment.role_arn,
            "experimentOptions": {k: v for k, v in options.items() if k != "actionsMode"},
            "actionsMode": options.get("actionsMode", "run-all")}


def stop_experiment(original: Callable[..., Any]) -> Callable[..., Any]:
    def stop_experiment(self: Any, id: str) -> dict[str, Any]:
        executor = _executor
        if executor is None or id not in self.experiments or executor.get(id) is None:
            return original(self, id)
        executor.stop(id)
        experiment = self.experiments[id]
        return experiment.to_dict(tags=self.tagger.get_tag_dict_for_resource(experiment.arn))

    return stop_experiment


def experiment_to_dict(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_dict(self: Any, tags: dict[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = original(self, tags)
        run = _executor.get(self.id) if _executor is not None else None
        if run is not None:
            with _executor.lock:  # type: ignore[union-attr]
                fields = run.api_fields()
            out.pop("endTime", None)
            out.update(fields)
        return out

    return to_dict


def experiment_to_summary_dict(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_summary_dict(self: Any, tags: dict[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = original(self, tags)
        run = _executor.get(self.id) if _executor is not None else None
        if run is not None:
            out["state"] = {"status": run.status, "reason": run.reason}
            out["creationTime"] = run.creation_time
        return out

    return to_summary_dict


def resolved_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    def resolved_targets(self: Any) -> list[Any]:
        run = _executor.get(self.id) if _executor is not None else None
        if run is None:
            return list(original(self))
        from moto.fis.models import ResolvedTarget

        with _executor.lock:  # type: ignore[union-attr]
            resolved = {name: list(rs) for name, rs in run.resolved.items()}
        return [ResolvedTarget(resource_type=r.resource_type, target_name=name,
                               resource_arn=r.arn)
                for name, rs in sorted(resolved.items()) for r in rs]

    return resolved_targets
