"""Static files: the portal's own CSS/JS and the pinned npm packages it serves itself.

The npm files come from ``node_modules`` (``npm ci`` from ``package-lock.json``)
and are served by the portal, so a page never loads anything from another host.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Public name -> path inside node_modules (a fixed list: nothing else is reachable).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "chart.umd.js": "chart.js/dist/chart.umd.js",
    "pico.min.css": "@picocss/pico/css/pico.min.css",
}
CACHE_FOREVER = "public, max-age=86400"


def node_modules() -> Path:
    return Path(os.environ.get("VNDX_NODE_MODULES", REPO_ROOT / "node_modules"))


def missing_vendor_files() -> list[str]:
    root = node_modules()
    return [name for name, path in VENDOR_FILES.items() if not (root / path).is_file()]


def install_assets(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/vendor/{name}", include_in_schema=False)
    async def vendor(name: str) -> FileResponse:
        relative = VENDOR_FILES.get(name)
        path = node_modules() / relative if relative else None
        if path is None or not path.is_file():
            raise HTTPException(404)
        return FileResponse(path, headers={"Cache-Control": CACHE_FOREVER})
