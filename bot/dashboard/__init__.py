"""The caseworker dashboard: pages under ``/dashboard``, their error pages and redirects."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.dashboard import report, security
from bot.dashboard.routes import PageError, render, router


def install(app: FastAPI) -> None:
    """Mount the dashboard's routes and the handlers that answer its errors as pages."""
    app.include_router(router)
    app.include_router(report.router)

    @app.exception_handler(security.NotSignedIn)
    async def not_signed_in(request: Request, error: security.NotSignedIn) -> Response:
        if request.headers.get("accept", "").startswith("text/event-stream"):
            return Response("sign in first", status_code=401, media_type="text/plain")
        return RedirectResponse("/dashboard/login", status_code=303)

    @app.exception_handler(security.CsrfRejected)
    async def csrf_rejected(request: Request, error: security.CsrfRejected) -> HTMLResponse:
        return render(
            request,
            "dashboard/error.html",
            status=403,
            message="This form has expired or did not come from the dashboard. "
            "Go back, reload the page and try again.",
        )

    @app.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> HTMLResponse:
        return render(request, "dashboard/error.html", status=error.status, message=error.message)
