"""FastAPI dependencies shared by the services' HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.runtime import ServiceRuntime


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


# The runtime (pool, publisher, topology) of the service serving the request.
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
