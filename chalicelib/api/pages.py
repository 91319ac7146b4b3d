"""The web pages the service serves itself: the public page, the counter desk, the vaccination
site's check-in desk, the admin dashboard.

Plain files under ``chalicelib/web`` (Chalice deploys chalicelib as is). They call only the public
API of the contract, like the app does. These routes are not part of the API, so the OpenAPI
document leaves them out (its drift test excludes ``PAGE_ROUTES`` explicitly).

Every asset URL in a page carries a hash of the asset (``static/common.js?v=…``), so assets may be
cached for a year and a deployment is still seen at once: the pages themselves are revalidated.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib.api.errors import RouteNotFound
from chalicelib.api.http import api_view, query_param

pages = Blueprint(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = {"/": "index.html", "/counter": "counter.html", "/site": "site.html", "/admin": "admin.html"}
PAGE_ROUTES = (*PAGES, "/static/{name}")

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(css|js|svg)$")
_ASSET_REF = re.compile(r"static/([a-z0-9][a-z0-9-]*\.(?:css|js|svg))")
# No inline script or style anywhere: everything comes from this origin's own files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY: dict[str, str | list[str]] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@cache
def asset_names() -> frozenset[str]:
    """The files of ``web/static`` that may be served (read once per container)."""
    return frozenset(p.name for p in (WEB / "static").iterdir() if p.is_file() and _ASSET_NAME.fullmatch(p.name))


def asset(name: str) -> tuple[str, str] | None:
    """(text, short hash) of a file in ``web/static``, or None when there is no such file.

    Only real files are cached: ``name`` comes from the URL, so a cache keyed by any name would
    grow with every name asked for. The cache holds at most ``len(asset_names())`` entries."""
    return _read_asset(name) if name in asset_names() else None


@cache
def _read_asset(name: str) -> tuple[str, str]:
    text = (WEB / "static" / name).read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@cache
def page(name: str) -> str:
    """A page's HTML with each ``static/<name>`` reference pinned to the asset's current hash."""
    html = (WEB / "pages" / name).read_text(encoding="utf-8")

    def pin(match: re.Match[str]) -> str:
        found = asset(match.group(1))
        if found is None:
            raise FileNotFoundError(match.group(1))
        return f"{match.group(0)}?v={found[1]}"

    return _ASSET_REF.sub(pin, html)


def _page_response(route: str) -> Response:
    # The path as asked for, with any stage prefix (API Gateway's "/api/counter", or "/api" for "/").
    path = str(pages.current_request.context.get("path") or route)
    if not path.endswith("/"):
        # The pages link their assets and the API relatively ("../static/…"), which needs the
        # trailing slash; a relative Location keeps any stage prefix in front of the route.
        location = path.rsplit("/", 1)[1] + "/"
        return Response(body="", status_code=308, headers={"Location": location, "Content-Type": "text/plain"})
    return Response(
        body=page(PAGES[route]),
        status_code=200,
        headers={"Content-Type": _TYPES[".html"], "Cache-Control": "no-cache", **_SECURITY},
    )


@pages.route("/", methods=["GET"])
@api_view
def public_page() -> Response:
    return _page_response("/")


@pages.route("/counter", methods=["GET"])
@api_view
def counter_page() -> Response:
    return _page_response("/counter")


@pages.route("/site", methods=["GET"])
@api_view
def site_page() -> Response:
    return _page_response("/site")


@pages.route("/admin", methods=["GET"])
@api_view
def admin_page() -> Response:
    return _page_response("/admin")


@pages.route("/static/{name}", methods=["GET"])
@api_view
def static_asset(name: str) -> Response:
    found = asset(name)
    if found is None:
        raise RouteNotFound()
    text, version = found
    pinned = query_param(pages.current_request, "v") == version
    cache = "public, max-age=31536000, immutable" if pinned else "no-cache"
    headers: dict[str, str | list[str]] = {"Content-Type": _TYPES[Path(name).suffix], "Cache-Control": cache}
    headers.update(_SECURITY)
    return Response(body=text, status_code=200, headers=headers)
