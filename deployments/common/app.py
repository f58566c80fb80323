"""The factory every LiftOS FastAPI app is built with, so each service speaks the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from cluster.settings import Settings, get_settings
from deployments.common.errors import ERROR_RESPONSES, install_error_handlers
from deployments.common.ingress import IngressMiddleware
from deployments.common.runtime import Runtime
from deployments.common.security import document_permissions

API_VERSION = "0.1.0"


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    behind_serve: bool = False,
    background: Sequence[Callable[[Runtime], Coroutine[Any, Any, None]]] = (),
    warm_up: Sequence[Callable[[FastAPI], Coroutine[Any, Any, None]]] = (),
) -> FastAPI:
    """A FastAPI app with LiftOS's ingress, errors and a runtime started in its lifespan.

    ``runtime`` lets tests inject one; otherwise the lifespan starts it from ``settings`` (or the
    environment) in whichever process serves the app: a Serve replica or plain uvicorn.
    ``behind_serve`` is set by the Serve deployment wrapping the app. ``background`` is work
    the service does while it runs; ``warm_up`` loads what its first requests would otherwise
    wait for, after the app is already answering (a request that needs it meanwhile waits for
    the same load, never a second one).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        started = await Runtime.start(settings or get_settings(), service_name=service)
        app.state.runtime = started
        # Work the service does on its own while it runs (not in tests that inject a runtime).
        loops = [started.spawn(work(started), what=work.__name__) for work in background]
        loops += [started.spawn(load(app), what=load.__name__) for load in warm_up]
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            await started.close()

    app = FastAPI(
        title=title,
        description=description,
        version=API_VERSION,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # One server span per request. FastAPI's per-operation spans (dependencies, endpoint,
        # serialization) would add three more to every request: measured, they cost more than
        # the server span itself (bench/gateway.py), and the ingress already tags what matters.
        telemetry={"operation_spans": False},
    )
    install_error_handlers(app)
    for router in routers:
        document_permissions(router)
        app.include_router(router)
    app.state.behind_serve = behind_serve
    app.add_middleware(IngressMiddleware, service=service, behind_serve=behind_serve)
    return app
