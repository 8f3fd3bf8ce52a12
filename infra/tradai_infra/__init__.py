"""The Pulumi program that deploys ``platform/`` (the ``tradai`` package) to AWS.

Every resource is declared from the topology spec (``tradai.topology``); this package only
knows how to map spec entries onto AWS resources.
"""
