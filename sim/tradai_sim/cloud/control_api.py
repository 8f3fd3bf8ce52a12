"""The control plane's own HTTP API, mounted under ``/_sim`` on the emulator's port.

Parts register routes in ``CloudContext.control_routes``; each takes the parsed JSON body
(with ``method`` and query ``args``) and returns ``(status, json)``. A route ending in ``/*``
answers every path under it, and gets the rest of the path as ``subpath``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from tradai_sim.cloud.context import CloudContext

log = logging.getLogger(__name__)


class ControlApi:
    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        route, subpath = self._route(request.path.rstrip("/") or "/")
        if route is None:
            response = _json(404, {"error": f"no control route {request.path}"})
        else:
            try:
                body = request.get_json(silent=True) or {}
                body = {**body, "method": request.method, "args": dict(request.args)}
                if "Authorization" in request.headers:  # the ECS credentials endpoint's token
                    body["authorization"] = request.headers["Authorization"]
                if subpath is not None:
                    body["subpath"] = subpath
                status, payload = route(body)
                response = _json(status, payload)
            except Exception as exc:  # a broken route must not take the emulator down
                log.exception("control route %s failed", request.path)
                response = _json(500, {"error": f"{type(exc).__name__}: {exc}"})
        return response(environ, start_response)

    def _route(self, path: str) -> tuple[Any, str | None]:
        routes = self.ctx.control_routes
        if path in routes:
            return routes[path], None
        for key, route in routes.items():
            if key.endswith("/*") and path.startswith(key[:-1]):
                return route, path[len(key) - 1:]
        return None, None


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload, default=str), status=status, mimetype="application/json")


def route_url(endpoint: str, route: str, subpath: str) -> str:
    """The URL a process uses for ``subpath`` under a prefix route (``/ecs/.../*``)."""
    return f"{endpoint.rstrip('/')}/_sim{route[:-2]}/{subpath}"
