"""The helpline service: webhooks, NLG, caseworker API, simulator, and the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError

from bot import __version__
from bot.app_state import AppState
from bot.config import Settings
from bot.dashboard import install as install_dashboard
from bot.ratelimit import SourceLimit
from bot.routes import api, health, nlg, referrals
from bot.worker import Worker

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


async def _out_of_range(request: Request, error: Exception) -> JSONResponse:
    """A number no column can hold (an id of 2**80): nothing has it; not a server error."""
    log.warning("%s %s: a value out of the database's range", request.method, request.url.path)
    return JSONResponse({"detail": "a number is out of range"}, status_code=422)


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> FastAPI:
    """Build the application; ``run_worker`` embeds the worker (required without Redis)."""
    settings = settings or Settings.load()
    state = AppState.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.use_database_threads()
        worker_task = None
        if run_worker:
            state.worker = Worker(state)
            worker_task = asyncio.create_task(state.worker.run(), name="helpline-worker")
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await state.close()

    app = FastAPI(
        title="Migrant helpline",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.helpline = state
    # Routes are matched in order: the requests of every message (providers' webhooks,
    # Rasa's NLG) first, the dashboard and API after them.
    for channel in state.channels.values():
        router = channel.router()
        if router is not None:
            app.include_router(router)
    app.include_router(nlg.router)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(referrals.router)
    install_dashboard(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_middleware(SourceLimit, limiter=state.limiter, limit=settings.rate_limit_source)
    return app
