"""The web studio: static pages under ``/studio/`` that call the server's own API from the browser.

The pages are plain ES modules shipped inside the package (``gradium/studio``): no build step and no
Node at run time, and nothing is fetched from the internet. ``/`` stays the Cartesia API status.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STUDIO_DIR = Path(__file__).resolve().parents[1] / "studio"
STUDIO_PATH = "/studio"


def install_studio(app: FastAPI) -> None:
    @app.get(STUDIO_PATH, include_in_schema=False)
    async def studio_root() -> RedirectResponse:
        return RedirectResponse(f"{STUDIO_PATH}/")

    app.mount(STUDIO_PATH, StaticFiles(directory=STUDIO_DIR, html=True), name="studio")
