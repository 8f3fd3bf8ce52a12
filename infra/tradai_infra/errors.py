"""Errors raised before any resource is declared, each naming the setting or spec entry."""

from __future__ import annotations


class InfraConfigError(ValueError):
    """A stack setting is missing or invalid; the message names the ``pulumi config`` key."""


class SpecMappingError(ValueError):
    """A topology spec entry has no AWS mapping in this program; the message names the entry."""


class FaultTemplateError(ValueError):
    """A fault template cannot be deployed to AWS FIS; the message names the template and the
    field."""


class LambdaPackageError(ValueError):
    """The Lambda code or its dependency layer cannot be built, or AWS would refuse it (over a
    size limit); the message names the archive and the limit."""
