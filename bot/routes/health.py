"""``GET /healthz``: each component's state; 503 naming what is down."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state.helpline
    checks: dict[str, Any] = {}

    async def check(name: str, probe: Any) -> None:
        try:
            await asyncio.wait_for(probe(), timeout=3.0)
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"down: {type(error).__name__}"

    async def database() -> None:
        await asyncio.to_thread(state.db.ping)

    async def rasa() -> None:
        await state.rasa.status()

    async def actions() -> None:
        response = await state.http.get(f"{state.settings.action_server_url}/health", timeout=3.0)
        response.raise_for_status()

    async def worker() -> None:
        if state.worker is not None and not state.worker.running:
            raise RuntimeError("worker stopped")

    probes = {"database": database, "rasa": rasa, "action_server": actions, "worker": worker}
    if state.settings.uses_redis:
        probes["redis"] = state.queue.ping
    await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
    down = sorted(name for name, value in checks.items() if value != "ok")
    body = {
        "status": "ok" if not down else "down",
        "down": down,
        "components": checks,
        "queue": "redis" if state.settings.uses_redis else "in-process",
    }
    return JSONResponse(body, status_code=503 if down else 200)
