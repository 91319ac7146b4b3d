"""The full-campaign run: the local stack in its own process, the campaign over HTTP.

The server is ``python -m local`` (what ``make run`` serves) on a free port, in a process of its
own (``server.py``); the load comes from this process, one keep-alive connection per client thread
(``clients.py``), so the clients' CPU does not share the server's GIL. The phases (``phases.py``):
every phone verified; then the households through the waiting room (``line_run.py``: the pre-queue
before the opening, the later arrivals, each household's attempts once admitted, until the line is
full), or, with ``BENCH_WAITING_ROOM=off``, the v1.1 burst (every attempt at once); the background's
drain. At the end the exact counts are checked (``checks.py``) against the admin summary and a full
read of the registrations (the admin CSV export, every page), and through the line its order too.
The campaign's clock (``total_s``) runs from the opening (the burst's start) to the last row read.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from typing import Any

from bench import checks, keys, line, line_run, phases
from bench.figures import percentile, since, timeline, verification_requests
from bench.server import Server
from bench.workload import Plan, households, with_tokens, workload


def run(plan: Plan) -> dict[str, Any]:
    """Run the campaign; returns its figures and checks (``checks_passed`` says whether all held)."""
    attempts = workload(plan)
    kinds = Counter(a.kind for a in attempts)
    phones = sorted({a.phone for a in attempts if a.phone is not None})
    groups = households(attempts) if plan.waiting_room else []
    opening = None
    if plan.waiting_room:
        opens_in = float(os.environ["BENCH_OPENS_IN_S"]) if os.environ.get("BENCH_OPENS_IN_S") else None
        prequeue = line.prequeue_count(len(groups))
        opening = line.Opening.plan(len(phones), prequeue, plan.attempts, time.time(), opens_in)
    server = Server(plan, opening.settings() if opening else {"WAITING_ROOM": "off"})
    through: line_run.Line | None = None
    confirmed_full, admin_queue = (0, 0), None
    try:
        token = server.admin_token()
        # Phase 1, the days before: everyone verifies their phone (reported on its own).
        sys.stderr.write(f"verifying {len(phones):,} phones before the burst\n")
        server.meter_phase("verification")
        tokens, verification = phases.verify_phones(server, phones, plan.clients)
        # The verification phase's own background (its SMS jobs) is reported with it, not per confirmation.
        before_burst = server.meter()
        verification["background_aws_requests"] = before_burst.get("background", {}).get("aws_requests", 0)
        verification.update(verification_requests(before_burst, len(phones)))
        attempts = with_tokens(attempts, tokens)
        # Phase 2: through the waiting room, or the burst; registrations carrying their tokens.
        server.meter_phase("other")  # the bare puts, the full read: not the campaign's keys
        bare_before = server.bare_puts()
        # The keys of the registrations and their background (and of the line after its opening), from
        # here; through the line, the pre-queue's joins before the opening on their own (``through_line``).
        server.meter_phase("burst" if opening is None else "prequeue")
        if opening is not None:
            through = line_run.Line(server, attempts, groups, tokens, opening, plan.clients)
            burst = phases.through_line(server, through, token)
        else:
            burst = phases.burst(server, attempts, plan.clients)
        # Phase 3: the background (two removal jobs per confirmation) may still be working.
        drained = phases.drain(server, token)
        peak_rss = max(burst.peak_rss_mb, server.peak_rss_mb())
        metered = since(server.meter(), before_burst)
        server.meter_phase("other")
        read_start = time.perf_counter()
        rows = server.full_read(token)
        read_s = time.perf_counter() - read_start
        total_s = time.perf_counter() - burst.start
        # The bench's own gauge of the engine after the campaign, outside its clock (2,000 puts took
        # 3-6 s here, which the total counted until run H).
        bare_after = server.bare_puts()
        if through is not None:
            # After the campaign's clock: the tickets still waiting at the end say so.
            confirmed_full = through.confirm_full()
            status, raw = server.call("GET", "/v1/admin/queue", token=token)
            admin_queue = json.loads(raw) if status == 200 else {"status": status}
    finally:
        exit_code = server.stop()

    out, burst_s, summary = burst.out, burst.seconds, drained.summary
    statuses = Counter(out.status)
    codes = Counter(out.code)
    lat = sorted(out.latency)
    by_status = Counter(r["status"] for r in rows)
    # Registrations per second while places remained (first attempt to the last 201).
    accepting_s = max((t for t, st in zip(out.done_at, out.status, strict=True) if st == 201), default=burst_s)
    bare = (bare_before + bare_after) / 2
    confirmations = summary["registrations"]["by_status"]["confirmed"]
    metered_keys = metered.pop("keys", {})
    # Through the line, only admitted households send their attempts: the counts are of those sent.
    sent = kinds if through is None else Counter(a.kind for a in _sent(attempts, through))
    held = checks.exact_counts(plan, sent, len(phones), verification["tokens"], out, summary, rows, exit_code)
    waiting_room: dict[str, Any] | None = None
    if through is not None:
        seen = line_run.Seen(through)
        transport = checks.line_transport(through.requests)
        held.update({name: held[name] and ok for name, ok in transport.items()})
        held.update(
            checks.line_checks(
                plan, seen, through.requests, through.probes, summary, rows, through.status, confirmed_full
            )
        )
        waiting_room = line_run.figures(through, seen, metered.get("paths", {}))
        waiting_room["attempts_sent"] = dict(sent)
        waiting_room["waiting_tickets_read_after"] = {"read": confirmed_full[0], **through.read_after}
        waiting_room["admin_queue"] = admin_queue
        polls = [(sent, answered, serving) for sent, answered, serving, _ in through.requests.polls]
        waiting_room["admission_disorder"] = line.admission_disorder(through.requests.reads, polls)
    key_table = keys.summary(metered_keys, confirmations, plan.attempts)
    figures = {
        "plan": {
            "attempts": plan.attempts,
            "clients": plan.clients,
            "primary_capacity": plan.primary,
            "reserve_capacity": plan.reserve,
            "attempt_kinds": dict(kinds),
            "phones": len(phones),
            "people_per_phone": (kinds["new"] + kinds["underage"]) / len(phones) if phones else float("nan"),
            "phone_verification": "required",
            "waiting_room": "on" if plan.waiting_room else "off",
        },
        "verification": verification,
        "burst_s": burst_s,
        "drain_after_burst_s": drained.seconds,
        "full_read_s": read_s,
        "total_s": total_s,
        "attempts_per_s": len(out) / burst_s,
        "accepted_per_s": statuses[201] / burst_s,
        "latency_ms": {
            "p50": percentile(lat, 50) * 1000,
            "p95": percentile(lat, 95) * 1000,
            "p99": percentile(lat, 99) * 1000,
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
        "server_cpu_s_during_burst": burst.server_cpu_s,
        # Below drain_after_burst_s: the drain waits on something else than the server's CPU.
        "server_cpu_s_during_drain": drained.server_cpu_s,
        # The AWS engine's own process (``local.apart``; 0 when it runs in the server's process).
        "engine_cpu_s_during_burst": burst.engine_cpu_s,
        "engine_cpu_s_during_drain": drained.engine_cpu_s,
        "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "summary": summary,
        "table_read": {"rows": len(rows), "by_status": dict(by_status)},
        "timeline": timeline(out),
        "checks": held,
        "checks_passed": all(held.values()),
        # Moved to latest.json's own ``keys`` section by ``bench.__main__``.
        "keys": key_table,
    }
    if waiting_room is not None:
        figures["waiting_room"] = waiting_room
        waiting_room["busiest_key"] = line.busiest_key(key_table, "queue")
        # Before the opening, not per confirmation: how hard the joins hit their keys (``peak_per_s``).
        waiting_room["prequeue_keys_written"] = metered_keys.get("prequeue", {}).get("writes", [])[:3]
    return figures


def _sent(attempts: list[Any], through: line_run.Line) -> list[Any]:
    """The attempts the households sent once admitted."""
    return [attempts[i] for page in through.pages for i in page.household.attempts[: page.sent]]


__all__ = ["Plan", "run"]
