"""The one rule of every operator endpoint of the local stack (``/_local/*`` on the served API, the SMS
stand-in's ``/_messages``, the registry stand-ins' ``/_control``): loopback only, JSON only.

A web page that rebinds its own DNS name to 127.0.0.1 reaches these servers from the operator's
browser, but with its own name in ``Host``; and a form or ``text/plain`` post is a "simple" cross-site
request a browser sends without asking. So a request is served only when it comes from loopback,
is addressed to loopback by name, and (when it carries a body) says it is JSON, which a browser
sends cross-site only after a preflight nobody here answers.

Imports nothing heavy: the registry stand-ins run it in a process of their own.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1"})
NOT_FOUND = 404
UNSUPPORTED_MEDIA_TYPE = 415


def is_loopback_host(header: str | None) -> bool:
    """True when a Host header names this machine's loopback (``localhost:8000``, ``[::1]``...)."""
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):
        host, _, rest = host.partition("]")
        host += "]"
        port = rest.removeprefix(":") if rest else ""
        if rest and not rest.startswith(":"):
            return False
    else:
        host, _, port = host.partition(":")
    return host in LOOPBACK_HOSTS and (port == "" or port.isdigit())


def refusal(client: str, host: str | None, content_type: str | None = None, *, json_body: bool = False) -> int | None:
    """None when an operator request may be served; else the status to refuse it with.

    404 (as if the endpoint did not exist) for a request from another address or addressed to
    another name; 415 when ``json_body`` and the content type is not ``application/json``.
    """
    if client not in LOOPBACK_ADDRESSES or not is_loopback_host(host):
        return NOT_FOUND
    if json_body and (content_type or "").split(";")[0].strip().lower() != "application/json":
        return UNSUPPORTED_MEDIA_TYPE
    return None


class LoopbackOnly(BaseHTTPRequestHandler):
    """A stand-in's request handler that serves only what :func:`refusal` lets through (a POST must be
    JSON); anything else gets the refusal's status and a closed connection, its body unread."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        status = refusal(
            self.client_address[0],
            self.headers.get("host"),
            self.headers.get("content-type"),
            json_body=self.command == "POST",
        )
        if status is None:
            return True
        raw = json.dumps({"error": "refused"}).encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)
        return False
