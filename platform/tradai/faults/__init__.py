"""Fault templates: AWS FIS experiment templates (plus ``tradai:`` harness actions in the same
shape), loaded from ``scenarios/faults/``, rendered for a deployment and validated against the
catalog of supported actions. Used by the local cloud's FIS and by the Pulumi program."""

from tradai.faults.catalog import ACTIONS, RESOURCE_TYPES, ActionSpec
from tradai.faults.templates import (
    FaultTemplate,
    RenderContext,
    TemplateError,
    classify,
    load_template,
    load_templates,
    render,
)
from tradai.faults.validation import Issue, TemplateInvalid, validate_template

__all__ = [
    "ACTIONS", "RESOURCE_TYPES", "ActionSpec", "FaultTemplate", "Issue", "RenderContext",
    "TemplateError", "TemplateInvalid", "classify", "load_template", "load_templates", "render",
    "validate_template",
]
