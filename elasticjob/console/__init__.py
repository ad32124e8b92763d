"""The web console: a single-page application shipped in the package (``static/``), served by every master.

``/`` answers the page, ``/console/...`` its scripts, styles and vendored toolkit (Preact with htm, Pico
CSS: ``static/vendor``, refreshed from the npm registry by ``make console-vendor`` and committed, so that
nothing is fetched at run time and the console works offline). The page uses only the public REST API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

__all__ = ["STATIC", "install_console"]


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/`` and its assets under ``/console``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def page() -> FileResponse:
        # Revalidated on each load, so that an upgraded master serves its own console at once.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/console", StaticFiles(directory=STATIC), name="console")
