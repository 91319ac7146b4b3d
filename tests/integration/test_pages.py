"""The web pages as HTTP: content types, a strict Content-Security-Policy, caching, no inline script."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.api.pages import PAGES, asset
from tests.helpers import gateway_event


@pytest.mark.parametrize("path", ["/", "/counter/", "/site/", "/admin/"])
def test_each_page_is_html_with_a_strict_policy_and_no_inline_script(client: Any, path: str) -> None:
    response = client.http.get(path)
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-cache"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    html = response.body.decode("utf-8")
    # Every script is a file of ours; no inline script, no inline style, nothing from elsewhere
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="' in attrs and body.strip() == "" for attrs, body in scripts)
    assert " style=" not in html and "<style" not in html and "http" not in html.replace('lang="', "")


def test_asset_references_carry_the_asset_hash_and_pinned_assets_are_cached_long(client: Any) -> None:
    html = client.http.get("/counter/").body.decode("utf-8")
    refs = re.findall(r'"\.\./static/([a-z-]+\.(?:js|css))\?v=([0-9a-f]{12})"', html)
    assert {name for name, _ in refs} == {"style.css", "common.js", "form.js", "staff.js", "qr.js", "counter.js"}
    for name, version in refs:
        found = asset(name)
        assert found is not None and found[1] == version
        pinned = client.http.get(f"/static/{name}?v={version}")
        assert pinned.status_code == 200
        assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert pinned.headers["X-Content-Type-Options"] == "nosniff"
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert pinned.headers["Content-Type"] == f"{kind}; charset=utf-8"
    stale = client.http.get("/static/common.js?v=000000000000")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("name", ["nope.js", "..%2Fpages.py", "Common.JS", "common.js.map", "../app.py"])
def test_anything_but_a_known_asset_is_a_404_in_the_envelope(client: Any, name: str) -> None:
    response = client.http.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"


def test_a_page_asked_for_without_its_slash_is_sent_to_it_relatively(client: Any) -> None:
    # The relative Location keeps a deployment's stage prefix (/api/counter -> /api/counter/).
    for route in PAGES:
        if route != "/":
            response = client.http.get(route)
            assert response.status_code == 308
            assert response.headers["Location"] == route.lstrip("/") + "/"


@pytest.mark.parametrize(
    ("resource", "asked", "location"), [("/", "/api", "api/"), ("/counter", "/api/counter", "counter/")]
)
def test_behind_a_stage_prefix_the_redirect_keeps_the_prefix(
    app: Any, resource: str, asked: str, location: str
) -> None:
    # As API Gateway calls the function: the path asked for, stage prefix included, is in the context.
    event = gateway_event(resource, asked)
    response = app(event, None)
    assert response["statusCode"] == 308
    assert response["headers"]["Location"] == location
    event["requestContext"]["path"] = asked + "/"
    assert app(event, None)["statusCode"] == 200
