"""Chalice's local HTTP server, with API Gateway's own errors in the contract's envelope.

A deployment sets API Gateway's gateway responses to the same shape (unknown route -> 404
``not_found``, throttled -> 429 ``rate_limited``); this server does the same on loopback.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import HTTPServer
from socketserver import ThreadingMixIn
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalGateway, LocalGatewayException

from chalicelib.api.errors import RouteNotFound, Unauthorized, UnsupportedMediaType, envelope
from chalicelib.domain.errors import Overloaded
from local import loopback
from local.edge import RateLimiter, is_public_post, is_verification_start

API_GATEWAY_BODY_LIMIT = 10 * 1024 * 1024
MAX_IN_FLIGHT = 256


def _as_lambda_response(exc: Exception) -> dict[str, Any]:
    status, body, headers = envelope(exc)
    return {
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": json.dumps(body, ensure_ascii=False),
    }


class ContractGateway(LocalGateway):
    metered = os.environ.get("LOCAL_METER") == "1"

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        if self.metered:
            from local import meter

            if meter.begin(method, path):
                response = self._handle(method, path, headers, body)
                meter.end(response)
                return response
        return self._handle(method, path, headers, body)

    def _handle(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            return super().handle_request(method, path, headers, body)
        except ForbiddenError as exc:
            raw = exc.body if isinstance(exc.body, bytes) else str(exc.body).encode()
            if b"Missing Authentication Token" in raw or b"Credential" in raw:
                return _as_lambda_response(RouteNotFound())
            raise
        except LocalGatewayException as exc:
            if exc.CODE == 401:
                return _as_lambda_response(Unauthorized())
            raise
        except Unauthorized as exc:
            # Raised by the token authorizer: API Gateway's 401.
            return _as_lambda_response(exc)


class ContractRequestHandler(ChaliceRequestHandler):
    gateway: ContractGateway
    slots: threading.BoundedSemaphore
    limiter: RateLimiter | None
    verification_limiter: RateLimiter | None
    # Headers and body go out in separate writes; with Nagle on, each keep-alive request
    # waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.local_gateway = self.gateway
        # Skip ChaliceRequestHandler.__init__: it would build a new gateway for every request.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def _generic_handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if self.path.startswith("/_local/"):
            refused = loopback.refusal(
                self.client_address[0], self.headers.get("host"), self.headers.get("content-type"), json_body=True
            )
            if refused is not None:
                self._send_envelope(RouteNotFound() if refused == loopback.NOT_FOUND else UnsupportedMediaType())
                self.close_connection = True  # its body, unread, must not be taken for a request
                return
            self._local_control(length)
            return
        if length > API_GATEWAY_BODY_LIMIT:
            from chalicelib.api.errors import PayloadTooLarge

            self._send_envelope(PayloadTooLarge())
            self.close_connection = True
            return
        # As AWS WAF evaluates its rules: the verification rule first; a request it refuses is not
        # counted by the public POST rule.
        for limiter, counted in (
            (self.verification_limiter, is_verification_start),
            (self.limiter, is_public_post),
        ):
            if limiter is not None and counted(self.command, self.path):
                wait = limiter.hit(self.client_address[0])
                if wait is not None:
                    self._read_and_drop(length)
                    self._send_envelope(Overloaded(retry_after=wait))
                    return
        if not self.slots.acquire(blocking=False):
            self._read_and_drop(length)
            self._send_envelope(Overloaded(retry_after=1))
            return
        try:
            super()._generic_handle()
        finally:
            self.slots.release()

    # The base class binds its do_* names to its own _generic_handle: bind them to ours.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle
    # Methods no route has reach the app too, which answers 405 in the envelope (not http.server's 501).
    do_TRACE = do_CONNECT = _generic_handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (QUERY, PROPFIND, …) too: http.server would answer a bare 501 page.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _local_control(self, length: int) -> None:
        """Operator commands of the local stack only (``make token``): never part of a deployment."""
        from chalicelib.domain.errors import DomainError, NotFound, ValidationFailed
        from chalicelib.domain.staff import DEFAULT_TOKEN_DAYS, Role
        from chalicelib.services import staff

        try:
            raw = self.rfile.read(length) if length <= 4096 else b""
            data = json.loads(raw or b"{}")
            if not isinstance(data, dict):
                raise ValidationFailed(["body"])
            if self.command == "POST" and self.path == "/_local/tokens":
                try:
                    role = Role(data.get("role"))
                except ValueError:
                    raise ValidationFailed(["role"]) from None
                label = str(data.get("label") or "")
                token, record = staff.issue_token(role, label, data.get("days", DEFAULT_TOKEN_DAYS))
                body = {"token": token, **record.model_dump(mode="json")}
                self._send_http_response(201, {"Content-Type": "application/json"}, json.dumps(body))
            elif self.command == "GET" and self.path == "/_local/meter":
                from local import meter

                self._send_http_response(200, {"Content-Type": "application/json"}, json.dumps(meter.report()))
            elif self.command == "POST" and self.path == "/_local/meter":
                from local import keys

                name = str(data.get("phase") or "start")[:40]
                keys.phase(name)
                self._send_http_response(200, {"Content-Type": "application/json"}, json.dumps({"phase": name}))
            elif self.command == "POST" and self.path == "/_local/bare-puts":
                import boto3

                from chalicelib.config import get_settings
                from local import meter

                db = boto3.client("dynamodb", region_name=get_settings().region)
                rate = meter.bare_puts(db, get_settings().campaign_table, min(20_000, int(data.get("n", 2000))))
                self._send_http_response(200, {"Content-Type": "application/json"}, json.dumps({"puts_per_s": rate}))
            elif self.command == "POST" and self.path == "/_local/tokens/revoke":
                staff.revoke_token(str(data.get("token_id", "")))
                self._send_http_response(200, {"Content-Type": "application/json"}, json.dumps({"revoked": True}))
            else:
                raise NotFound()
        except (ValueError, DomainError) as exc:
            self._send_envelope(exc if isinstance(exc, DomainError) else ValidationFailed(["body"]))

    def _read_and_drop(self, length: int) -> None:
        if length:
            self.rfile.read(length)

    def _send_envelope(self, exc: Exception) -> None:
        response = _as_lambda_response(exc)
        self._send_http_response(response["statusCode"], response["headers"], response["body"])

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        # Paths can carry registration IDs; the access log stays quiet.
        return


class LocalHTTPServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True


def make_server(
    app: Chalice, host: str, port: int, rate_limit_per_5min: int = 0, verification_limit_per_5min: int = 0
) -> LocalHTTPServer:
    """The local HTTP server; ``rate_limit_per_5min`` > 0 limits each address on the public POST routes,
    ``verification_limit_per_5min`` > 0 on requests for an SMS code."""
    config = Config.create(chalice_stage="local", app_name=app.app_name, lambda_timeout=30, lambda_memory_size=512)
    handler = type(
        "BoundHandler",
        (ContractRequestHandler,),
        {
            "gateway": ContractGateway(app, config),
            "slots": threading.BoundedSemaphore(MAX_IN_FLIGHT),
            "limiter": RateLimiter(rate_limit_per_5min) if rate_limit_per_5min > 0 else None,
            "verification_limiter": (
                RateLimiter(verification_limit_per_5min) if verification_limit_per_5min > 0 else None
            ),
        },
    )

    def factory(request: Any, client_address: Any, server: Any) -> ContractRequestHandler:
        return handler(request, client_address, server, app_object=app, config=config)

    return LocalHTTPServer((host, port), factory)
