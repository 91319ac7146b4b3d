"""The full-campaign run: the local stack in its own process, a burst of registrations over HTTP.

The server is ``python -m local`` (what ``make run`` serves) on a free port, in a process of its
own; the load comes from this process, one keep-alive connection per client thread, so the
clients' CPU does not share the server's GIL. At the end the exact counts are checked against
the admin summary and a full read of the registrations (the admin CSV export, every page).
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers import body, national_id

ROOT = Path(__file__).resolve().parents[1]
INVALID_SHARE = 0.03
UNDERAGE_SHARE = 0.01
REPEAT_SHARE = 0.05
DRAIN_STALL_S = 300.0


@dataclass(frozen=True)
class Plan:
    attempts: int
    primary: int
    reserve: int
    clients: int
    seed: int = 7

    @staticmethod
    def of_size(attempts: int, clients: int) -> Plan:
        """The campaign's proportions at any size: half the attempts find a place, a tenth the reserve."""
        return Plan(attempts=attempts, primary=attempts // 2, reserve=attempts // 10, clients=clients)


@dataclass(frozen=True)
class Attempt:
    payload: bytes
    kind: str  # "new", "repeat", "invalid", "underage"
    phone: str | None = None  # verified before the burst (None: an invalid body, refused before it matters)


# People share phones as households do: 1 to 4 people a phone (the contract's limit of active app
# registrations per phone is 4, and the bench must never reach past it), 2.5 on average.
HOUSEHOLD_SIZES = {1: 0.15, 2: 0.35, 3: 0.35, 4: 0.15}


def _household_phone(n: int) -> str:
    """Household n's phone: 08 and 8 digits of n."""
    return f"08{n % 10**8:08d}"


class _Households:
    """Hands out phones: each new household's size drawn from ``HOUSEHOLD_SIZES``, its members in a row."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # apart from the mix's: the attempts stay those of any run
        self._sizes, self._weights = zip(*HOUSEHOLD_SIZES.items(), strict=True)
        self.count = 0
        self._room = 0

    def phone(self) -> str:
        if self._room == 0:
            self.count += 1
            self._room = self._rng.choices(self._sizes, self._weights)[0]
        self._room -= 1
        return _household_phone(self.count)


def _invalid(rng: random.Random, n: int) -> bytes:
    """A body the contract rejects with 400: a sample of the mistakes apps and people make."""
    good = body(n)
    choice = rng.randrange(6)
    if choice == 0:
        good["national_id"] = good["national_id"][:-1] + str((int(good["national_id"][-1]) + 1) % 10)
    elif choice == 1:
        good["consent"] = False
    elif choice == 2:
        good["phone"] = "0212345678"
    elif choice == 3:
        good["eligibility"] = {"basis": "tourist", "detail": "x"}
    elif choice == 4:
        good["nickname"] = "unknown field"
    else:
        return b'{"national_id": "1101700230708", '  # cut off mid-body
    return json.dumps(good, ensure_ascii=False).encode()


def workload(plan: Plan) -> list[Attempt]:
    """The attempts in arrival order: new people, repeats of people already sent, invalid bodies."""
    rng = random.Random(plan.seed)
    households = _Households(plan.seed + 1)
    out: list[Attempt] = []
    sent: list[Attempt] = []
    person = 0
    for _ in range(plan.attempts):
        roll = rng.random()
        if roll < INVALID_SHARE:
            out.append(Attempt(_invalid(rng, 50_000_000 + len(out)), "invalid"))
        elif roll < INVALID_SHARE + UNDERAGE_SHARE:
            n = 60_000_000 + len(out)
            minor = body(n, birth_date=f"{time.gmtime().tm_year - 10}-01-01", phone=households.phone())
            out.append(Attempt(json.dumps(minor, ensure_ascii=False).encode(), "underage", minor["phone"]))
        elif roll < INVALID_SHARE + UNDERAGE_SHARE + REPEAT_SHARE and sent:
            earlier = rng.choice(sent)
            out.append(Attempt(earlier.payload, "repeat", earlier.phone))
        else:
            data = body(person, phone=households.phone())
            attempt = Attempt(json.dumps(data, ensure_ascii=False).encode(), "new", data["phone"])
            person += 1
            sent.append(attempt)
            out.append(attempt)
    return out


def with_tokens(attempts: list[Attempt], tokens: dict[str, str]) -> list[Attempt]:
    """Each body with its phone's verification token (the same person's repeats stay identical)."""
    out = []
    for a in attempts:
        if a.phone is None:
            out.append(a)
            continue
        data = json.loads(a.payload)
        data["verification_token"] = tokens.get(a.phone, "not verified")
        out.append(Attempt(json.dumps(data, ensure_ascii=False).encode(), a.kind, a.phone))
    return out


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


def _cpu_of(pid: int) -> float:
    """User + system CPU a process has used so far (Linux: /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Server:
    """``python -m local`` on a free port, with the campaign's capacities."""

    def __init__(self, plan: Plan) -> None:
        env = {
            **os.environ,
            "PORT": "0",
            "CAMPAIGN_PRIMARY_CAPACITY": str(plan.primary),
            "CAMPAIGN_RESERVE_CAPACITY": str(plan.reserve),
            "PHONE_VERIFICATION": "required",
            "PYTHONUNBUFFERED": "1",
            # The server counts the AWS requests of each registration path and of the background.
            "LOCAL_METER": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = ""
        self.output: list[str] = []
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("Serving on "):
                self.url = line.split()[-1]
                break
        if not self.url:
            raise RuntimeError("the local stack did not start:\n" + "".join(self.output))
        threading.Thread(target=self._drain_output, daemon=True).start()
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def sms_gateway(self) -> tuple[str, int]:
        """(host, port) of the SMS gateway stand-in, as `make run` prints it."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in list(self.output):
                if "sms gateway stand-in on " in line:
                    parts = urlsplit(line.split(" on ", 1)[1].split()[0])
                    return parts.hostname or "127.0.0.1", parts.port or 80
            time.sleep(0.1)
        raise RuntimeError("the local stack did not say where its SMS gateway stand-in is")

    def _drain_output(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (Linux: VmHWM)."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux: /proc/<pid>/stat)."""
        return _cpu_of(self.proc.pid)

    def engine_cpu_seconds(self) -> float:
        """The same for the server's AWS engine process (``local.apart``), 0 when it runs in-process."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid and b"local.apart" in cmdline:
                return _cpu_of(int(entry.name))
        return 0.0

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def call(self, method: str, path: str, payload: Any = None, token: str | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=None if payload is None else json.dumps(payload), headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def _client(server: Server, attempts: list[Attempt], cursor: Any, out: Outcomes, start: float) -> None:
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


def _post_all(server: Server, calls: list[tuple[str, bytes]], clients: int) -> list[tuple[int, bytes, float]]:
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


def _sms_get(host: str, port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=600)
    try:
        conn.request("GET", path)
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


_CODE_IN_SMS = re.compile(r"code is (\d{6})")


def verify_phones(server: Server, phones: list[str], clients: int) -> tuple[dict[str, str], dict[str, Any]]:
    """The days before the burst: every phone asks for a code, reads it from the SMS, confirms it.

    Returns (phone -> verification token, the phase's figures).
    """
    start = time.perf_counter()
    asked = _post_all(server, [("/v1/verifications", json.dumps({"phone": p}).encode()) for p in phones], clients)
    asked_s = time.perf_counter() - start
    ids = {
        p: json.loads(raw)["verification_id"]
        for p, (status, raw, _) in zip(phones, asked, strict=True)
        if status == 202
    }
    # The SMS worker sends the codes in the background: wait for the gateway stand-in to have them all.
    host, port = server.sms_gateway()
    sms_start = time.perf_counter()
    codes: dict[str, str] = {}
    progress_at, sent_before = time.perf_counter(), -1
    while len(codes) < len(ids) and time.perf_counter() - progress_at < DRAIN_STALL_S:
        sent = int(_sms_get(host, port, "/_messages?to=-")["calls"])
        if sent != sent_before:
            progress_at, sent_before = time.perf_counter(), sent
        if sent >= len(ids):
            for message in _sms_get(host, port, "/_messages")["messages"]:
                found = _CODE_IN_SMS.search(message["text"])
                if found and message["to"] in ids:
                    codes[message["to"]] = found.group(1)
        if len(codes) < len(ids):
            time.sleep(1.0)
    sms_s = time.perf_counter() - sms_start
    confirm_start = time.perf_counter()
    ready = [p for p in phones if p in codes]
    confirmed = _post_all(
        server,
        [(f"/v1/verifications/{ids[p]}/confirm", json.dumps({"code": codes[p]}).encode()) for p in ready],
        clients,
    )
    confirm_s = time.perf_counter() - confirm_start
    tokens = {
        p: json.loads(raw)["verification_token"]
        for p, (status, raw, _) in zip(ready, confirmed, strict=True)
        if status == 200
    }
    statuses = Counter(str(status) for status, _, _ in asked + confirmed)
    ask_lat = sorted(lat for _, _, lat in asked)
    confirm_lat = sorted(lat for _, _, lat in confirmed)
    figures = {
        "phones": len(phones),
        "codes_asked_s": asked_s,
        "sms_delivered_s": sms_s,
        "confirmed_s": confirm_s,
        "total_s": time.perf_counter() - start,
        "phones_per_s": len(phones) / (time.perf_counter() - start),
        "responses_by_status": dict(sorted(statuses.items())),
        "ask_latency_ms": {"p50": _percentile(ask_lat, 50) * 1000, "p95": _percentile(ask_lat, 95) * 1000},
        "confirm_latency_ms": {
            "p50": _percentile(confirm_lat, 50) * 1000,
            "p95": _percentile(confirm_lat, 95) * 1000,
        },
        "codes_sent_by_sms": len(codes),
        "tokens": len(tokens),
    }
    return tokens, figures


def _progress(done: int, total: int, accepted: int, elapsed: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else 0.0
    bar = "#" * filled + "." * (width - filled)
    line = (
        f"\r[{bar}] {done:,}/{total:,} attempts  {accepted:,} accepted  {rate:,.0f}/s"
        f"  {elapsed:,.0f}s elapsed, ~{eta:,.0f}s left "
    )
    sys.stderr.write(line if sys.stderr.isatty() else line.strip("\r") + "\n")
    sys.stderr.flush()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def timeline(out: Outcomes, step: float = 5.0) -> list[dict[str, float]]:
    """Per ``step`` seconds of the burst: attempts and accepted per second, latency percentiles."""
    buckets: dict[int, list[int]] = {}
    for i, t in enumerate(out.done_at):
        buckets.setdefault(int(t // step), []).append(i)
    rows = []
    for b in sorted(buckets):
        idx = buckets[b]
        lat = sorted(out.latency[i] for i in idx)
        rows.append(
            {
                "t_s": (b + 1) * step,
                "attempts_per_s": len(idx) / step,
                "accepted_per_s": sum(1 for i in idx if out.status[i] == 201) / step,
                "p50_ms": _percentile(lat, 50) * 1000,
                "p95_ms": _percentile(lat, 95) * 1000,
                "p99_ms": _percentile(lat, 99) * 1000,
            }
        )
    return rows


def _admin_token(server: Server) -> str:
    status, raw = server.call("POST", "/_local/tokens", {"role": "admin", "label": "bench"})
    if status != 201:
        raise RuntimeError(f"could not issue an admin token: {status} {raw[:200]!r}")
    return str(json.loads(raw)["token"])


def _summary(server: Server, token: str) -> dict[str, Any]:
    status, raw = server.call("GET", "/v1/admin/summary", token=token)
    if status != 200:
        raise RuntimeError(f"admin summary answered {status}")
    return dict(json.loads(raw))


def _removals_settled(summary: dict[str, Any]) -> int:
    """Removals with an outcome (removed, not found or failed) in the registry that has fewest."""
    return min(r["removed"] + r["not_found"] + r["failed"] for r in summary["removals"].values())


def _full_read(server: Server, token: str) -> list[dict[str, str]]:
    """Every registration, through the admin CSV export, page by page."""
    rows: list[dict[str, str]] = []
    path = "/v1/admin/registrations.csv"
    header: list[str] | None = None
    while path:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            text = resp.read().decode("utf-8-sig")
            if resp.status != 200:
                raise RuntimeError(f"CSV export answered {resp.status}")
            link = resp.getheader("Link") or ""
        finally:
            conn.close()
        reader = csv.reader(io.StringIO(text))
        if header is None:
            header = next(reader)
        rows.extend(dict(zip(header, r, strict=True)) for r in reader if r)
        path = link[link.index("<") + 1 : link.index(">")] if link else ""
    return rows


def _bare_puts(server: Server) -> float:
    status, raw = server.call("POST", "/_local/bare-puts", {"n": 2000})
    return float(json.loads(raw)["puts_per_s"]) if status == 200 else float("nan")


def _since(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The meter's figures less the background counted before (registration paths start at the burst)."""
    earlier = before.get("background", {})
    background = {k: v - earlier.get(k, 0) for k, v in after.get("background", {}).items()}
    return {**after, "background": background}


def _verification_requests(metered: dict[str, Any], phones: int) -> dict[str, Any]:
    """AWS requests of the verification phase: per request of each route, and per phone verified
    (both requests and the SMS worker's share of the background)."""
    paths = metered.get("paths", {})
    routes = {k: v for k, v in paths.items() if k.startswith("verification_")}
    total = sum(v["aws_requests_per_request"] * v["requests"] for v in routes.values())
    total += metered.get("background", {}).get("aws_requests", 0)
    return {
        "aws_requests_per_request": {k: v["aws_requests_per_request"] for k, v in sorted(routes.items())},
        "aws_requests_per_phone": total / phones if phones else float("nan"),
    }


def _meter(server: Server) -> dict[str, Any]:
    status, raw = server.call("GET", "/_local/meter")
    return dict(json.loads(raw)) if status == 200 else {}


def run(plan: Plan) -> dict[str, Any]:
    """Run the campaign; returns its figures and checks (``checks_passed`` says whether all held)."""
    attempts = workload(plan)
    kinds = Counter(a.kind for a in attempts)
    distinct_people = kinds["new"]
    phones = sorted({a.phone for a in attempts if a.phone is not None})
    server = Server(plan)
    try:
        token = _admin_token(server)
        # Phase 1, the days before: everyone verifies their phone (reported on its own).
        sys.stderr.write(f"verifying {len(phones):,} phones before the burst\n")
        tokens, verification = verify_phones(server, phones, plan.clients)
        # The verification phase's own background (its SMS jobs) is reported with it, not per confirmation.
        before_burst = _meter(server)
        verification["background_aws_requests"] = before_burst.get("background", {}).get("aws_requests", 0)
        verification.update(_verification_requests(before_burst, len(phones)))
        attempts = with_tokens(attempts, tokens)
        # Phase 2, the burst: registrations carrying their tokens.
        out = Outcomes()
        counter = iter(range(len(attempts)))
        cursor_lock = threading.Lock()

        class _Cursor:
            def __next__(self) -> int:
                with cursor_lock:
                    return next(counter)

        cursor = _Cursor()
        bare_before = _bare_puts(server)
        cpu_before, engine_before = server.cpu_seconds(), server.engine_cpu_seconds()
        start = time.perf_counter()
        threads = [
            threading.Thread(target=_client, args=(server, attempts, cursor, out, start), daemon=True)
            for _ in range(plan.clients)
        ]
        for th in threads:
            th.start()
        peak_rss = 0.0
        ticks = 0
        while any(th.is_alive() for th in threads):
            time.sleep(1.0)
            ticks += 1
            peak_rss = max(peak_rss, server.peak_rss_mb())
            if sys.stderr.isatty() or ticks % 10 == 0:
                with out.lock:
                    done, accepted = len(out.status), out.status.count(201)
                _progress(done, len(attempts), accepted, time.perf_counter() - start)
        burst_s = time.perf_counter() - start
        server_cpu_burst = server.cpu_seconds() - cpu_before
        engine_cpu_burst = server.engine_cpu_seconds() - engine_before
        sys.stderr.write("\n")
        expected_confirmed = min(plan.primary, distinct_people)
        expected_reserve = min(plan.reserve, max(0, distinct_people - plan.primary))

        # The background (two removal jobs per confirmation) may still be working: wait for it.
        drain_start = time.perf_counter()
        cpu_before_drain, engine_before_drain = server.cpu_seconds(), server.engine_cpu_seconds()
        summary = _summary(server, token)
        progress_at, settled = time.perf_counter(), _removals_settled(summary)
        # The sweep counts each direct confirmation as it settles its removals: wait for every place.
        while _removals_settled(summary) < summary["primary"]["used"]:
            if _removals_settled(summary) != settled:
                progress_at, settled = time.perf_counter(), _removals_settled(summary)
            elif time.perf_counter() - progress_at > DRAIN_STALL_S:
                break  # no removal settled for minutes: report it rather than wait forever
            if sys.stderr.isatty() or int(time.perf_counter() - drain_start) % 20 < 2:
                sys.stderr.write(
                    f"\rbackground: removals settled {_removals_settled(summary):,}"
                    f" of {summary['primary']['used']:,} " + ("" if sys.stderr.isatty() else "\n")
                )
            time.sleep(2.0)
            summary = _summary(server, token)
        drain_s = time.perf_counter() - drain_start
        server_cpu_drain = server.cpu_seconds() - cpu_before_drain
        engine_cpu_drain = server.engine_cpu_seconds() - engine_before_drain
        sys.stderr.write("\n")
        peak_rss = max(peak_rss, server.peak_rss_mb())
        metered = _since(_meter(server), before_burst)
        bare_after = _bare_puts(server)
        read_start = time.perf_counter()
        rows = _full_read(server, token)
        read_s = time.perf_counter() - read_start
        total_s = time.perf_counter() - start
    finally:
        exit_code = server.stop()

    statuses = Counter(out.status)
    codes = Counter(out.code)
    lat = sorted(out.latency)
    active = [r for r in rows if r["status"] in ("confirmed", "reserve")]
    by_status = Counter(r["status"] for r in rows)
    ids_active = Counter(r["national_id"] for r in active)
    accepted_ids = set(out.registration_ids)
    # Registrations per second while places remained (first attempt to the last 201).
    accepting_s = max((t for t, st in zip(out.done_at, out.status, strict=True) if st == 201), default=burst_s)
    bare = (bare_before + bare_after) / 2
    confirmations = summary["registrations"]["by_status"]["confirmed"]
    checks = {
        "confirmed_exact": summary["primary"]["used"] == expected_confirmed == by_status["confirmed"],
        "reserve_exact": summary["reserve"]["used"] == expected_reserve == by_status["reserve"],
        "accepted_responses_match_places": statuses[201] == expected_confirmed + expected_reserve,
        "every_accepted_registration_stored": accepted_ids == {r["registration_id"] for r in active},
        "nobody_twice": all(n == 1 for n in ids_active.values()),
        "no_5xx": not any(s >= 500 for s in statuses),
        "no_lost_connection": statuses[0] == 0,
        "every_error_in_envelope": codes["no_envelope"] == 0,
        "invalid_bodies_rejected_400": statuses[400] == kinds["invalid"],
        "underage_rejected_422": statuses[422] == kinds["underage"],
        "every_phone_verified_before_the_burst": verification["tokens"] == len(phones),
        "no_phone_not_verified": codes["phone_not_verified"] == 0,
        # Households of at most 4 stay within the contract's limit of active registrations per phone.
        "no_phone_limit_reached": codes["phone_limit_reached"] == 0,
        "background_drained": _removals_settled(summary) == expected_confirmed,
        "summary_counts_match": summary["registrations"]["by_status"]["confirmed"] == expected_confirmed
        and summary["registrations"]["by_status"]["reserve"] == expected_reserve,
        "server_stopped_cleanly": exit_code == 0,
    }
    return {
        "plan": {
            "attempts": plan.attempts,
            "clients": plan.clients,
            "primary_capacity": plan.primary,
            "reserve_capacity": plan.reserve,
            "attempt_kinds": dict(kinds),
            "phones": len(phones),
            "people_per_phone": (kinds["new"] + kinds["underage"]) / len(phones) if phones else float("nan"),
            "phone_verification": "required",
        },
        "verification": verification,
        "burst_s": burst_s,
        "drain_after_burst_s": drain_s,
        "full_read_s": read_s,
        "total_s": total_s,
        "attempts_per_s": len(attempts) / burst_s,
        "accepted_per_s": statuses[201] / burst_s,
        "latency_ms": {
            "p50": _percentile(lat, 50) * 1000,
            "p95": _percentile(lat, 95) * 1000,
            "p99": _percentile(lat, 99) * 1000,
            "max": (lat[-1] if lat else float("nan")) * 1000,
        },
        "accepting_s": accepting_s,
        "registrations_per_s_while_places_remained": statuses[201] / accepting_s,
        "bare_conditional_puts_per_s": {"before": bare_before, "after": bare_after},
        "throughput_vs_bare_put": statuses[201] / accepting_s / bare,
        "aws_requests": metered,
        "background_aws_requests_per_confirmation": (
            metered.get("background", {}).get("aws_requests", 0) / confirmations if confirmations else float("nan")
        ),
        "responses_by_status": {str(k): v for k, v in sorted(statuses.items())},
        "responses_by_code": dict(sorted(codes.items())),
        "server_peak_rss_mb": peak_rss,
        "server_cpu_s_during_burst": server_cpu_burst,
        # Below drain_after_burst_s: the drain waits on something else than the server's CPU.
        "server_cpu_s_during_drain": server_cpu_drain,
        # The AWS engine's own process (``local.apart``; 0 when it runs in the server's process).
        "engine_cpu_s_during_burst": engine_cpu_burst,
        "engine_cpu_s_during_drain": engine_cpu_drain,
        "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "summary": summary,
        "table_read": {"rows": len(rows), "by_status": dict(by_status)},
        "timeline": timeline(out),
        "checks": checks,
        "checks_passed": all(checks.values()),
    }


__all__ = ["Plan", "national_id", "run"]
