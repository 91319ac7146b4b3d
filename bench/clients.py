"""The bench's HTTP clients: keep-alive connections, one per thread, so that the clients' CPU does
not share the server's GIL; what the registering clients saw, response by response."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.server import Server
from bench.workload import Attempt


@dataclass
class Outcomes:
    """What the clients saw; each list is indexed like the others (one entry per response)."""

    done_at: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    registration_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rows: list[tuple[float, float, int, str]], rids: list[str]) -> None:
        with self.lock:
            for done, lat, status, code in rows:
                self.done_at.append(done)
                self.latency.append(lat)
                self.status.append(status)
                self.code.append(code)
            self.registration_ids.extend(rids)

    def __len__(self) -> int:
        return len(self.status)


def register_all(server: Server, attempts: list[Attempt], cursor: Any, out: Outcomes, start: float) -> None:
    """One client thread: POST each attempt the shared ``cursor`` hands it, until none is left."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
    rids: list[str] = []
    while True:
        try:
            i = next(cursor)
        except StopIteration:
            break
        if i >= len(attempts):
            break
        # A key per attempt, as the public page sends it (a person trying again is a new attempt).
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{i}-{uuid.uuid4().hex[:12]}"}
        t = time.perf_counter()
        try:
            conn.request("POST", "/v1/registrations", body=attempts[i].payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
            raw, status = b"", 0
        done = time.perf_counter()
        code = "created"
        try:
            data = json.loads(raw) if raw else {}
            if status == 201:
                rids.append(data["registration_id"])
            else:
                code = data.get("error", {}).get("code", "no_envelope")
        except (ValueError, AttributeError, KeyError):
            code = "no_envelope"
        out.add([(done - start, done - t, status, code)], rids)
        rids = []
    conn.close()


def post_all(server: Server, calls: list[tuple[str, bytes]], clients: int) -> list[tuple[int, bytes, float]]:
    """POST every (path, body) from ``clients`` threads on keep-alive connections.

    Returns (status, body, latency) per call, in the order given (status 0: the connection failed).
    """
    results: list[tuple[int, bytes, float]] = [(0, b"", 0.0)] * len(calls)
    cursor = iter(range(len(calls)))
    lock = threading.Lock()
    headers = {"Content-Type": "application/json"}

    def work() -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            t = time.perf_counter()
            try:
                conn.request("POST", calls[i][0], body=calls[i][1], headers=headers)
                resp = conn.getresponse()
                results[i] = (resp.status, resp.read(), time.perf_counter() - t)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        conn.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


def sms_get(host: str, port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=600)
    try:
        conn.request("GET", path)
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


@dataclass(frozen=True)
class Answer:
    """One answer as a client saw it: status (0: the connection failed), JSON body, when it was sent and
    answered (wall clock, ``time.time()``), its latency, whether an error came in the contract's
    envelope, and the headers the line reads (``Cache-Control``, ``Retry-After``)."""

    status: int
    data: dict[str, Any]
    sent: float
    answered: float
    latency: float
    enveloped: bool
    headers: dict[str, str]

    @property
    def code(self) -> str:
        error = self.data.get("error")
        return str(error.get("code", "")) if isinstance(error, dict) else ""


class Connection:
    """A keep-alive connection to the served stack (one per client thread), reopened after a failure."""

    def __init__(self, server: Server) -> None:
        self._host, self._port = server.host, server.port
        self._conn = http.client.HTTPConnection(self._host, self._port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        head = {"Content-Type": "application/json", **(headers or {})}
        sent, t = time.time(), time.perf_counter()
        try:
            self._conn.request(method, path, body=body, headers=head)
            resp = self._conn.getresponse()
            raw, status = resp.read(), resp.status
            kept = {k: resp.getheader(k) or "" for k in ("Cache-Control", "Retry-After", "Connection")}
            if kept["Connection"].lower() == "close":
                self._conn.close()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=120)
            raw, status, kept = b"", 0, {}
        latency, answered = time.perf_counter() - t, time.time()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        error = data.get("error")
        enveloped = status < 300 or (isinstance(error, dict) and bool(error.get("code")))
        return Answer(status, data, sent, answered, latency, enveloped, kept)

    def close(self) -> None:
        self._conn.close()
