"""Where a service answers inside the VPC: its service-discovery URL.

A function's environment may name it (``TRADAI_<SERVICE>_URL``; the backend's is
``TRADAI_BACKEND_URL``, as the task environments call it). Otherwise it is the service's Cloud
Map name in the private DNS namespace the Pulumi program creates,
``http://<service>.<project>-<env>.local:<port>`` (an A record per task; see
https://docs.aws.amazon.com/cloud-map/latest/dg/working-with-services.html).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tradai.topology.model import Service

# Names the task environments already use where they differ from the rule below.
_ENV_NAMES = {"backend-api": "TRADAI_BACKEND_URL"}


def env_name(service: str) -> str:
    return _ENV_NAMES.get(service, f"TRADAI_{service.replace('-', '_').upper()}_URL")


def cloud_map_url(service: Service, project: str, env: str) -> str:
    return f"http://{service.name}.{project}-{env}.local:{service.port}"


def service_url(service: Service, project: str, env: str,
                environ: Mapping[str, str] | None = None) -> str:
    """The base URL (no trailing slash) through which ``service`` is reached."""
    source = os.environ if environ is None else environ
    configured = source.get(env_name(service.name))
    return (configured or cloud_map_url(service, project, env)).rstrip("/")
