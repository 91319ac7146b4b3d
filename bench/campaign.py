"""The full-campaign run: the local stack in its own process, a burst of registrations over HTTP.

The server is ``python -m local`` (what ``make run`` serves) on a free port, in a process of its
own (``server.py``); the load comes from this process, one keep-alive connection per client thread
(``clients.py``), so the clients' CPU does not share the server's GIL. The phases (``phases.py``):
every phone verified, the burst, the background's drain. At the end the exact counts are checked
(``checks.py``) against the admin summary and a full read of the registrations (the admin CSV
export, every page).
"""

from __future__ import annotations

import resource
import sys
import time
from collections import Counter
from typing import Any

from bench import checks, keys, phases
from bench.figures import percentile, since, timeline, verification_requests
from bench.server import Server
from bench.workload import Plan, with_tokens, workload


def run(plan: Plan) -> dict[str, Any]:
    """Run the campaign; returns its figures and checks (``checks_passed`` says whether all held)."""
    attempts = workload(plan)
    kinds = Counter(a.kind for a in attempts)
    phones = sorted({a.phone for a in attempts if a.phone is not None})
    server = Server(plan)
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
        # Phase 2, the burst: registrations carrying their tokens.
        server.meter_phase("other")  # the bare puts, the full read: not the campaign's keys
        bare_before = server.bare_puts()
        server.meter_phase("burst")  # the keys of the registrations and their background, from here
        burst = phases.burst(server, attempts, plan.clients)
        # Phase 3: the background (two removal jobs per confirmation) may still be working.
        drained = phases.drain(server, token)
        peak_rss = max(burst.peak_rss_mb, server.peak_rss_mb())
        metered = since(server.meter(), before_burst)
        server.meter_phase("other")
        bare_after = server.bare_puts()
        read_start = time.perf_counter()
        rows = server.full_read(token)
        read_s = time.perf_counter() - read_start
        total_s = time.perf_counter() - burst.start
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
    held = checks.exact_counts(plan, kinds, len(phones), verification["tokens"], out, summary, rows, exit_code)
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
        "drain_after_burst_s": drained.seconds,
        "full_read_s": read_s,
        "total_s": total_s,
        "attempts_per_s": len(attempts) / burst_s,
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
        "keys": keys.summary(metered_keys, confirmations, plan.attempts),
    }


__all__ = ["Plan", "run"]
