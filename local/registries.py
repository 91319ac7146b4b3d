"""Stand-ins for Mor Phrom and Khon Kaen Phrom: real HTTP servers on loopback speaking the
registries' contract, holding a set of national IDs, with faults an operator or a test can switch on.

``POST /_control`` with any of ``{"fail_rate": 0.3, "fail_next": 4, "delay": 2.0, "down": true,
"garbage": true, "add": ["1101700230708", ...]}`` changes the behaviour; ``GET /_control`` shows it with call counts.
Every request must come from loopback, addressed to loopback by name, and a POST must be JSON
(``local.loopback``): a DNS-rebinding page in the operator's browser can neither switch faults on nor
add people.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.loopback import LoopbackOnly

_PATH = re.compile(r"^/registrants/(\d{13})$")


class RegistryState:
    def __init__(self, name: str, api_key: str, seed: list[str]) -> None:
        self.name = name
        self.api_key = api_key
        self.people: set[str] = set(seed)
        self.fail_rate = 0.0
        self.delay = 0.0
        self.down = False
        self.garbage = False
        self.fail_next = 0
        self.calls: dict[str, int] = {"DELETE": 0, "GET": 0}
        self.removed: list[str] = []
        self.lock = threading.Lock()
        self.rng = random.Random(7)  # noqa: S311 - fault injection, not a secret  # nosec B311

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "people": len(self.people),
            "fail_rate": self.fail_rate,
            "delay": self.delay,
            "down": self.down,
            "garbage": self.garbage,
            "fail_next": self.fail_next,
            "calls": dict(self.calls),
            "removed": len(self.removed),
        }


def _handler(state: RegistryState) -> type[BaseHTTPRequestHandler]:
    class Handler(LoopbackOnly):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - national IDs stay out of logs
            return

        def _send(self, status: int, body: Any = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if raw:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _registrant(self, method: str) -> None:
            with state.lock:
                state.calls[method] += 1
                down, delay, garbage = state.down, state.delay, state.garbage
                fail = state.fail_next > 0 or state.rng.random() < state.fail_rate
                state.fail_next = max(0, state.fail_next - 1)
            if down:
                self.close_connection = True
                self.connection.close()  # as if nobody listened
                return
            if delay:
                time.sleep(delay)
            if self.headers.get("X-Api-Key") != state.api_key:
                self._send(401, {"error": "bad api key"})
                return
            match = _PATH.match(self.path)
            if not match:
                self._send(404, {"error": "no such resource"})
                return
            if fail:
                self._send(503, {"error": "injected failure"})
                return
            if garbage:
                self._send(200)  # a 200 with no body: not an answer of the contract
                return
            person = match.group(1)
            with state.lock:
                present = person in state.people
                if method == "DELETE" and present:
                    state.people.discard(person)
                    state.removed.append(person)
            if method == "DELETE":
                self._send(204 if present else 404)
            else:
                self._send(200 if present else 404, {"registered": present} if present else None)

        def do_DELETE(self) -> None:
            self._registrant("DELETE")

        def do_GET(self) -> None:
            if self.path == "/_control":
                with state.lock:
                    self._send(200, state.view())
                return
            self._registrant("GET")

        def do_POST(self) -> None:
            if self.path != "/_control":
                self._send(404)
                return
            try:
                change = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            except ValueError:
                self._send(400, {"error": "json"})
                return
            with state.lock:
                state.fail_rate = float(change.get("fail_rate", state.fail_rate))
                state.delay = float(change.get("delay", state.delay))
                state.down = bool(change.get("down", state.down))
                state.garbage = bool(change.get("garbage", state.garbage))
                state.fail_next = int(change.get("fail_next", state.fail_next))
                state.people.update(str(p) for p in change.get("add", []))
                self._send(200, state.view())

    return Handler


class RegistryStandIn:
    def __init__(self, name: str, api_key: str, seed: list[str], port: int = 0) -> None:
        self.state = RegistryState(name, api_key, seed)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self.state))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"registry-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> RegistryStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def seed_ids(step: int, count: int = 2000) -> list[str]:
    """Some of the people who will register (the IDs the tests and the benchmark use)."""
    from chalicelib.domain.rules import thai_id_check_digit

    ids = [f"1{n:011d}" for n in range(0, count, step)]
    return [i + str(thai_id_check_digit(i)) for i in ids] + ["1101700230708"]


KEYS = {"mor_phrom": "local-mor-phrom-key", "khon_kaen_phrom": "local-kkp-key"}
SEED_STEP = {"mor_phrom": 2, "khon_kaen_phrom": 3}


def start_both() -> dict[str, RegistryStandIn]:
    """Both stand-ins on free loopback ports, and the settings that point the service at them."""
    stand_ins = {name: RegistryStandIn(name, KEYS[name], seed_ids(SEED_STEP[name])).start() for name in KEYS}
    _point_at({name: s.url for name, s in stand_ins.items()})
    return stand_ins


def _point_at(urls: dict[str, str]) -> None:
    import os

    for name, url in urls.items():
        os.environ[f"REGISTRY_{name.upper()}_URL"] = url
        os.environ[f"REGISTRY_{name.upper()}_API_KEY"] = KEYS[name]


class StandInProcess:
    """Both stand-ins served by a child process (``python -m local`` uses it): their HTTP work does
    not share the served stack's interpreter lock. Reached over HTTP only (``/_control``)."""

    def __init__(self) -> None:
        import subprocess  # our own module, fixed arguments  # nosec B404
        import sys

        self.proc = subprocess.Popen(  # fixed arguments, no shell  # nosec B603
            [sys.executable, "-m", "local.registries"], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None  # narrows the type: stdout is a pipe  # nosec B101
        self.urls = dict(self.proc.stdout.readline().split() for _ in KEYS)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class _Remote:
    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self) -> None:
        return


def start_both_in_a_process() -> tuple[StandInProcess, dict[str, _Remote]]:
    child = StandInProcess()
    _point_at(child.urls)
    return child, {name: _Remote(url) for name, url in child.urls.items()}


def _serve() -> None:
    import signal
    import sys

    stand_ins = {name: RegistryStandIn(name, KEYS[name], seed_ids(SEED_STEP[name])).start() for name in KEYS}
    for name, stand_in in stand_ins.items():
        print(name, stand_in.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    _serve()
