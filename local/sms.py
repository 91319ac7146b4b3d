"""A stand-in SMS gateway on loopback: keeps each message once per Idempotency-Key.

``GET /_messages`` lists what it received (the last ``MESSAGES_KEPT``; for tests and operators on the
local stack only); ``GET /_messages?to=0812345678`` only what went to that number. It holds OTPs and
receipt codes, so every request must come from loopback, addressed to loopback by name, and a POST
must be JSON (``local.loopback``): a DNS-rebinding page in the operator's browser reads nothing.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.loopback import LoopbackOnly

# Messages kept, the oldest forgotten first (~1.4 KB each: an appointment SMS is ~300 characters of
# Thai and English); `make bench` reads its ~37,000 codes before any appointment SMS is sent. A job
# redelivered after its message was forgotten would count as a second message: locally, acceptable.
MESSAGES_KEPT = 50_000


class SmsStandIn:
    def __init__(self, api_key: str = "local-sms-key") -> None:
        self.api_key = api_key
        self.messages: dict[str, dict[str, str]] = {}
        self.calls = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="sms-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> SmsStandIn:
        self._thread.start()
        os.environ["SMS_GATEWAY_URL"] = self.url
        os.environ["SMS_GATEWAY_API_KEY"] = self.api_key
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def keep(self, key: str, message: dict[str, str]) -> None:
        """One message received: kept once per Idempotency-Key, at most ``MESSAGES_KEPT`` of them."""
        with self.lock:
            self.calls += 1
            if key not in self.messages:
                self.messages[key] = message
                while len(self.messages) > MESSAGES_KEPT:
                    del self.messages[next(iter(self.messages))]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(LoopbackOnly):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no numbers in logs
                return

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/messages" or self.headers.get("X-Api-Key") != gateway.api_key:
                    self._send(401 if self.path == "/messages" else 404, {"error": "refused"})
                    return
                key = self.headers.get("Idempotency-Key") or ""
                try:
                    message = json.loads(data)
                except ValueError:
                    self._send(400, {"error": "json"})
                    return
                gateway.keep(key, message)
                self._send(202, {"id": key})

            def do_GET(self) -> None:
                to = parse_qs(urlsplit(self.path).query).get("to", [None])[0]
                with gateway.lock:
                    messages = [m for m in gateway.messages.values() if to is None or m.get("to") == to]
                    self._send(200, {"calls": gateway.calls, "messages": messages})

        return Handler
