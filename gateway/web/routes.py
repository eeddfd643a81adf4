"""The viewer page: static HTML/JS/CSS from the package, no build step, nothing from the internet."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.api.errors import not_found

STATIC = Path(__file__).parent / "static"

# The page may only load what the gateway serves (CSP Level 3): no third-party script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _file(name: str) -> web.FileResponse:
    # Only the page's own flat files: no directories, no dotfiles, nothing outside STATIC.
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise not_found(f"no static file {name!r}")
    return web.FileResponse(path, headers={**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix]})


async def index(request: web.Request) -> web.FileResponse:
    return _file("index.html")


async def static(request: web.Request) -> web.FileResponse:
    return _file(request.match_info["name"])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
