"""The embedded AWS emulator: moto's server app, with the control API mounted at ``/_sim``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, make_server


def prepare_moto_environment(port: int) -> None:
    """Settings moto reads from the environment; must run before moto's backends load."""
    # Step Functions' interpreter calls other services at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    # The first EC2 call would otherwise load ~1,300 AMIs (3-5 s).
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


# Consulted in order before moto: one that returns a WSGI app answers the request itself
# (the FIS part's API error injection); None lets moto serve it.
RequestInterceptor = Callable[[dict[str, Any]], Any]
request_interceptors: list[RequestInterceptor] = []


def _intercepting(app: Any) -> Any:
    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        for intercept in list(request_interceptors):
            answer = intercept(environ)
            if answer is not None:
                return answer(environ, start_response)
        return app(environ, start_response)

    return dispatch


def enable_state_machine_execution() -> None:
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = True


class EmulatorServer:
    def __init__(self, host: str, port: int, control_app: Any) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from tradai_sim.cloud.keepalive import KeepAliveRequestHandler

        moto_app = _intercepting(DomainDispatcherApplication(create_backend_app))
        app = DispatcherMiddleware(moto_app, {"/_sim": control_app})
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=KeepAliveRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="emulator", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
