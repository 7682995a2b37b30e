"""``/api/docs``: Swagger UI for the REST API, served from this server (Swagger UI is
vendored in static/vendor/swagger-ui, from npm ``swagger-ui-dist``, Apache-2.0) so that it
works offline and under the Content-Security-Policy (``default-src 'self'``: no CDN, no
inline script)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()
ASSETS = "/static/vendor/swagger-ui"
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rokuon API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" href="{ASSETS}/favicon-32x32.png"></head>
<body><div id="swagger-ui" data-spec="/api/openapi.json"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""


@router.get("/api/docs", include_in_schema=False)
def swagger_page() -> HTMLResponse:
    return HTMLResponse(PAGE)
