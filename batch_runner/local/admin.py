"""Admin HTTP endpoints under ``/_emulator``, so tests and users can steer a running server.

| Method and path                  | Effect                                                        |
|----------------------------------|---------------------------------------------------------------|
| ``GET /_emulator/health``        | ``{"status": "ok", "stack": ..., "outputs": {...}}``          |
| ``GET /_emulator/config``        | the current ``EmulatorConfig`` as JSON                        |
| ``POST /_emulator/config``       | body ``{"field": value, ...}`` changes settings; returns them |
| ``GET /_emulator/events``        | ``{"events": [...]}``: recorded EventBridge events            |
| ``GET /_emulator/jobs``          | ``{"jobs": [...]}``: every job as GetModelInvocationJob shows |
| ``POST /_emulator/clock/advance``| body ``{"seconds": n}``; manual clock only                    |
| ``POST /_emulator/run``          | advance a manual clock until every job is terminal            |
| ``POST /_emulator/reset``        | forget jobs and events; restore the start-up config           |
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from batch_runner.local.wsgi import StartResponse, json_response

if TYPE_CHECKING:
    from batch_runner.local.server import Emulator


class AdminApp:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "").removeprefix("/_emulator").rstrip("/")
        try:
            body = _json_body(environ)
            result = self._dispatch(method, route, body)
        except (ValueError, TypeError) as err:
            return json_response(start_response, 400, {"message": str(err)})
        if result is None:
            return json_response(
                start_response, 404, {"message": f"no admin endpoint {method} /_emulator{route}"}
            )
        return json_response(start_response, 200, result)

    def _dispatch(self, method: str, route: str, body: dict[str, Any]) -> dict[str, Any] | None:
        emulator = self._emulator
        if (method, route) == ("GET", "/health"):
            return {"status": "ok", "stack": emulator.stack_name, "outputs": emulator.stack_outputs}
        if (method, route) == ("GET", "/config"):
            return emulator.config.as_dict()
        if (method, route) == ("POST", "/config"):
            return emulator.configure(**body).as_dict()
        if (method, route) == ("GET", "/events"):
            return {"events": emulator.events()}
        if (method, route) == ("GET", "/jobs"):
            return {"jobs": [job.describe() for job in emulator.jobs()]}
        if (method, route) == ("POST", "/clock/advance"):
            emulator.advance(float(body.get("seconds", 0)))
            return {"now": emulator.clock.now()}
        if (method, route) == ("POST", "/run"):
            emulator.run_until_idle()
            return {"now": emulator.clock.now()}
        if (method, route) == ("POST", "/reset"):
            emulator.reset()
            return {"status": "reset"}
        return None


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not length:
        return {}
    parsed = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if not isinstance(parsed, dict):
        raise ValueError("the request body must be a JSON object")
    return parsed
