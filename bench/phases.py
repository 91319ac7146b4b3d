"""The campaign's phases against the served stack: the days before (every phone verified), then
either the households through the waiting room (``through_line``, the default) or the burst of
registrations all at once (``burst``, ``BENCH_WAITING_ROOM=off``), and the drain of the background
work they left."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench import line
from bench.clients import Outcomes, post_all, register_all, sms_get
from bench.figures import percentile, removals_settled
from bench.line_run import Line
from bench.server import Server
from bench.workload import Attempt

DRAIN_STALL_S = 300.0
_CODE_IN_SMS = re.compile(r"code is (\d{6})")


def verify_phones(server: Server, phones: list[str], clients: int) -> tuple[dict[str, str], dict[str, Any]]:
    """The days before the burst: every phone asks for a code, reads it from the SMS, confirms it.

    Returns (phone -> verification token, the phase's figures).
    """
    start = time.perf_counter()
    asked = post_all(server, [("/v1/verifications", json.dumps({"phone": p}).encode()) for p in phones], clients)
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
        sent = int(sms_get(host, port, "/_messages?to=-")["calls"])
        if sent != sent_before:
            progress_at, sent_before = time.perf_counter(), sent
        if sent >= len(ids):
            for message in sms_get(host, port, "/_messages")["messages"]:
                found = _CODE_IN_SMS.search(message["text"])
                if found and message["to"] in ids:
                    codes[message["to"]] = found.group(1)
        if len(codes) < len(ids):
            time.sleep(1.0)
    sms_s = time.perf_counter() - sms_start
    confirm_start = time.perf_counter()
    ready = [p for p in phones if p in codes]
    confirmed = post_all(
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
        "ask_latency_ms": {"p50": percentile(ask_lat, 50) * 1000, "p95": percentile(ask_lat, 95) * 1000},
        "confirm_latency_ms": {
            "p50": percentile(confirm_lat, 50) * 1000,
            "p95": percentile(confirm_lat, 95) * 1000,
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


@dataclass(frozen=True)
class Burst:
    """What the burst gave: the clients' outcomes, and the server's time, CPU and memory for it."""

    out: Outcomes
    start: float  # time.perf_counter() when the first client started
    seconds: float
    server_cpu_s: float
    engine_cpu_s: float
    peak_rss_mb: float


def burst(server: Server, attempts: list[Attempt], clients: int) -> Burst:
    """Every attempt POSTed from ``clients`` threads at once, each on its keep-alive connection."""
    out = Outcomes()
    counter = iter(range(len(attempts)))
    cursor_lock = threading.Lock()

    class _Cursor:
        def __next__(self) -> int:
            with cursor_lock:
                return next(counter)

    cursor = _Cursor()
    cpu_before, engine_before = server.cpu_seconds(), server.engine_cpu_seconds()
    start = time.perf_counter()
    threads = [
        threading.Thread(target=register_all, args=(server, attempts, cursor, out, start), daemon=True)
        for _ in range(clients)
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
    seconds = time.perf_counter() - start
    server_cpu = server.cpu_seconds() - cpu_before
    engine_cpu = server.engine_cpu_seconds() - engine_before
    sys.stderr.write("\n")
    return Burst(out, start, seconds, server_cpu, engine_cpu, peak_rss)


def through_line(server: Server, run: Line, admin_token: str) -> Burst:
    """The households of ``run`` (made just before) through the waiting room: the pre-queue joins
    before the opening, the rest after it, each household's attempts once admitted, until every
    household is done (registered, or the line full). The Burst's clock starts at the opening; its
    seconds end with the last household."""
    opening = run.opening
    # The admin sets the bench's pace (the setting says the same: the PUT holds whatever the stage's default).
    status, _ = server.call("PUT", "/v1/admin/queue", {"admit_per_minute": opening.admit_per_minute}, admin_token)
    run.admin_put_status = status
    run.admit_per_minute = opening.admit_per_minute
    late = time.time() - (opening.opens_at - opening.prequeue_window_s)
    if late > 0:
        sys.stderr.write(f"the pre-queue starts {late:,.0f} s late (BENCH_OPENS_IN_S sets the opening further)\n")
    sys.stderr.write(
        f"{run.prequeue_planned:,} of {len(run.pages):,} households join before the opening, in"
        f" {max(0.0, opening.opens_at - time.time()):,.0f} s; the rest over {opening.arrivals_after_s:,.0f} s after\n"
    )
    threads = run.start()
    run.done.wait(max(0.0, opening.opens_at - time.time()))
    server.meter_phase("burst")  # the key table is of the campaign from its opening on
    # From the opening on, the campaign's clock runs (a late phase counts from the opening all the same).
    start = time.perf_counter() - max(0.0, time.time() - opening.opens_at)
    cpu_before, engine_before = server.cpu_seconds(), server.engine_cpu_seconds()
    peak_rss, ticks = 0.0, 0
    progress, progress_at = -1, time.perf_counter()
    paced_at, paced_done = time.perf_counter(), run.households_done()
    while not run.done.wait(1.0):
        ticks += 1
        if run.status not in ("full", "closed") and time.perf_counter() - paced_at >= line.PACE_EVERY_S:
            paced_at, paced_done = _pace(server, run, admin_token, paced_at, paced_done, start)
        peak_rss = max(peak_rss, server.peak_rss_mb())
        if run.progress != progress:
            progress, progress_at = run.progress, time.perf_counter()
        elif run.stalled(time.perf_counter() - progress_at):
            sys.stderr.write("\nthe line is stuck: nothing moved for minutes; the phase ends here\n")
            break
        if sys.stderr.isatty() or ticks % 10 == 0:
            _line_progress(run, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    run.stop(threads)
    server_cpu = server.cpu_seconds() - cpu_before
    engine_cpu = server.engine_cpu_seconds() - engine_before
    sys.stderr.write("\n")
    return Burst(run.out, start, seconds, server_cpu, engine_cpu, peak_rss)


def _pace(server: Server, run: Line, admin_token: str, since: float, done: int, start: float) -> tuple[float, int]:
    """The admin's pace from what the stack completed since ``since`` (``done`` households then):
    ``PUT /v1/admin/queue`` when it moved by a tenth or more; (now, households done now)."""
    now, done_now, in_flight = time.perf_counter(), run.households_done(), run.in_flight()
    per_minute = line.pace((done_now - done) / (now - since), in_flight, run.clients)
    if line.pace_held(per_minute, run.admit_per_minute, done_now, in_flight, run.clients, not run.prequeue_placed()):
        return now, done_now
    if abs(per_minute - run.admit_per_minute) >= run.admit_per_minute / 10:
        status, _ = server.call("PUT", "/v1/admin/queue", {"admit_per_minute": per_minute}, admin_token)
        if status == 200:
            run.admit_per_minute = per_minute
        run.paces.append({"t_s": round(now - start, 1), "admit_per_minute": per_minute, "status": status})
    return now, done_now


def _line_progress(run: Line, elapsed: float) -> None:
    outcomes = Counter(p.outcome for p in run.pages)
    admitted = sum(1 for p in run.pages if p.admission_token)
    with run.out.lock:
        accepted = run.out.status.count(201)
    line_ = (
        f"\r{elapsed:,.0f}s since the opening: serving {run.serving:,} ({run.status}) at {run.admit_per_minute:,}/min,"
        f" {admitted:,} households"
        f" admitted, {outcomes['registered']:,} done, {accepted:,} registrations accepted "
    )
    sys.stderr.write(line_ if sys.stderr.isatty() else line_.strip("\r") + "\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Drain:
    """The admin summary once the background settled (or stalled), and the time and CPU it took."""

    summary: dict[str, Any]
    seconds: float
    server_cpu_s: float
    engine_cpu_s: float


def drain(server: Server, token: str) -> Drain:
    """Wait for the background (two removal jobs per confirmation) to settle every place."""
    drain_start = time.perf_counter()
    cpu_before_drain, engine_before_drain = server.cpu_seconds(), server.engine_cpu_seconds()
    summary = server.summary(token)
    progress_at, settled = time.perf_counter(), removals_settled(summary)
    # The sweep counts each direct confirmation as it settles its removals: wait for every place.
    while removals_settled(summary) < summary["primary"]["used"]:
        if removals_settled(summary) != settled:
            progress_at, settled = time.perf_counter(), removals_settled(summary)
        elif time.perf_counter() - progress_at > DRAIN_STALL_S:
            break  # no removal settled for minutes: report it rather than wait forever
        if sys.stderr.isatty() or int(time.perf_counter() - drain_start) % 20 < 2:
            sys.stderr.write(
                f"\rbackground: removals settled {removals_settled(summary):,}"
                f" of {summary['primary']['used']:,} " + ("" if sys.stderr.isatty() else "\n")
            )
        time.sleep(2.0)
        summary = server.summary(token)
    drain_s = time.perf_counter() - drain_start
    server_cpu_drain = server.cpu_seconds() - cpu_before_drain
    engine_cpu_drain = server.engine_cpu_seconds() - engine_before_drain
    sys.stderr.write("\n")
    return Drain(summary, drain_s, server_cpu_drain, engine_cpu_drain)
