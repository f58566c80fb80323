"""/healthz (the process answers) and /readyz (its dependencies answer too)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from deployments.common.security import runtime_of
from deployments.core.schemas import HealthResponse, ReadinessCheck, ReadinessResponse

router = APIRouter(tags=["health"])

# Extra readiness probes by name (the Serve deployment adds one for its applications).
ReadinessProbe = Callable[[], Awaitable[tuple[bool, str]]]
_CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


async def _run(name: str, probe: Callable[[], Awaitable[object]]) -> ReadinessCheck:
    try:
        outcome = await asyncio.wait_for(probe(), timeout=_CHECK_TIMEOUT_S)
    except TimeoutError:
        return ReadinessCheck(name=name, ok=False, detail=f"no answer in {_CHECK_TIMEOUT_S:.0f} s")
    except Exception as exc:
        return ReadinessCheck(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}")
    if isinstance(outcome, tuple):
        ok, detail = outcome
        return ReadinessCheck(name=name, ok=bool(ok), detail=str(detail))
    return ReadinessCheck(name=name, ok=True, detail="ok")


@router.get(
    "/readyz",
    response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "a dependency is down"}},
)
async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    probes: dict[str, ReadinessProbe] = dict(getattr(request.app.state, "readiness_probes", {}))

    async def redis_ping() -> tuple[bool, str]:
        return bool(await runtime.redis.ping()), "ok"

    async def postgres_ping() -> tuple[bool, str]:
        await runtime.db.ping()
        return True, "ok"

    probes = {"postgresql": postgres_ping, "redis": redis_ping, **probes}
    checks = await asyncio.gather(*(_run(name, probe) for name, probe in probes.items()))
    ready = all(c.ok for c in checks)
    body = ReadinessResponse(status="ready" if ready else "not_ready", checks=list(checks))
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
