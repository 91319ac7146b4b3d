"""`make bench`: the full-campaign run over HTTP, then the request-path ratios; JSON and a chart.

Size: ``BENCH_SIZE=full`` (default: 100,000 attempts, 50,000 + 10,000 places) or ``small``
(5,000 attempts, same proportions), or ``BENCH_ATTEMPTS=N``; ``BENCH_CLIENTS`` (64) clients.
``BENCH_RATIOS=0`` skips the ratios. ``BENCH_WAITING_ROOM=off`` sends every attempt at once as in
v1.1 (the stack's ``WAITING_ROOM=off``), to compare with the default, through the waiting room;
``BENCH_OPENS_IN_S`` sets how long after the stack's start the registration opens (default: an
estimate from the number of phones to verify). Exits 1 when an exact-count check fails.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bench import campaign, chart, keys, ratios

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "latest.json"
CHART = ROOT / "bench" / "results" / "campaign.png"
SIZES = {"full": 100_000, "small": 5_000}


def _plan() -> campaign.Plan:
    size = os.environ.get("BENCH_SIZE", "full") or "full"
    if size not in SIZES:
        raise SystemExit(f"BENCH_SIZE must be one of {', '.join(SIZES)}, not {size!r}")
    attempts = int(os.environ.get("BENCH_ATTEMPTS") or SIZES[size])
    room = (os.environ.get("BENCH_WAITING_ROOM") or "on").strip().lower()
    if room not in ("on", "off"):
        raise SystemExit(f"BENCH_WAITING_ROOM must be on or off, not {room!r}")
    return campaign.Plan.of_size(attempts, int(os.environ.get("BENCH_CLIENTS") or 64), waiting_room=room == "on")


def report(c: dict[str, Any]) -> None:
    plan = c["plan"]
    lat = c["latency_ms"]
    print(
        f"campaign: {plan['attempts']:,} attempts from {plan['clients']} clients against "
        f"{plan['primary_capacity']:,} + {plan['reserve_capacity']:,} places"
    )
    print(
        f"  burst {c['burst_s']:,.1f} s ({c['attempts_per_s']:,.0f} attempts/s, {c['accepted_per_s']:,.0f} accepted/s);"
        f" background drained {c['drain_after_burst_s']:,.1f} s later; full read {c['full_read_s']:,.1f} s;"
        f" total {c['total_s']:,.1f} s"
    )
    print(
        f"  latency p50 {lat['p50']:,.0f} ms, p95 {lat['p95']:,.0f} ms,"
        f" p99 {lat['p99']:,.0f} ms, max {lat['max']:,.0f} ms"
    )
    print(f"  responses {c['responses_by_status']}  codes {c['responses_by_code']}")
    v = c["verification"]
    print(
        f"  before the burst (not in the total): {v['phones']:,} phones ({plan['people_per_phone']:.2f} people a phone)"
        f" verified in {v['total_s']:,.1f} s ({v['phones_per_s']:,.0f}/s: codes asked {v['codes_asked_s']:,.1f} s,"
        f" SMS delivered {v['sms_delivered_s']:,.1f} s later, confirmed {v['confirmed_s']:,.1f} s); {v['tokens']:,}"
        f" tokens; {v['aws_requests_per_phone']:.2f} AWS requests a phone {v['aws_requests_per_request']}"
    )
    print(
        f"  peak memory: server {c['server_peak_rss_mb']:,.0f} MB RSS, client {c['client_peak_rss_mb']:,.0f} MB RSS;"
        f" server CPU during the burst {c['server_cpu_s_during_burst']:,.0f} s,"
        f" during the drain {c['server_cpu_s_during_drain']:,.0f} s; the AWS engine's process"
        f" {c.get('engine_cpu_s_during_burst', 0):,.0f} s and {c.get('engine_cpu_s_during_drain', 0):,.0f} s"
    )
    if "waiting_room" in c:
        _report_line(c["waiting_room"])
    for name, ok in c["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")


def _report_line(w: dict[str, Any]) -> None:
    per = w["per_household"]
    aws = (w.get("aws_requests") or {}).get("per_phone")
    print(
        f"  the line: {w['households']:,} households ({w['joined_before_opening']:,} before the opening,"
        f" {w['joined_after_opening']:,} after, {w['joins_across_the_opening']:,} across it), admitted"
        f" {w['admitted_households']:,} at {w['admit_per_minute']:,}/min then {_paces(w['paces'])};"
        f" full {w['opening_to_full_s']:,.1f} s"
        f" after the opening; outcomes {w['outcomes']}"
    )
    print(
        f"  per household: {per['joins']:.2f} joins, {per['ticket_reads']:.2f} ticket reads,"
        f" {per['status_polls_by_pages']:.1f} status polls by its page ({per['status_requests_to_the_service']:.3f}"
        f" reached the service); AWS requests {aws if aws is not None else 'not metered'}"
    )
    print(
        "  p99 by kind: "
        + ", ".join(f"{k} {v['p99_ms']:,.0f} ms" for k, v in w["latency_ms_by_kind"].items())
        + f"; pre-queue rank correlation {w['prequeue_rank_correlation']:.3f}"
    )
    own = (w.get("busiest_key") or {}).get("busiest_of_the_line")
    pre = w.get("prequeue_keys_written") or []
    if own:
        print(
            f"  the line's busiest key after the opening: {own['table']} {own['index'] or ''} {own['busiest_key']}"
            f" ({own['writes_per_confirmation']:.4f} writes per confirmation, peak {own['peak_writes_per_s']:,}/s)"
        )
    if pre:
        top = pre[0]
        where = f"{top['table']} {top['index'] or ''} {top['pattern']}"
        print(f"  before the opening: {where} peak {top['peak_per_s']:,} writes/s")


def _paces(paces: list[dict[str, Any]]) -> str:
    shown = [f"{p['admit_per_minute']:,} at {p['t_s']:,.0f} s" for p in paces if p["status"] == 200]
    return "/min, ".join(shown[:8]) + ("/min" if shown else "no change") + (" …" if len(shown) > 8 else "")


def _stop(signum: int, frame: Any) -> None:
    # A terminated bench unwinds (SystemExit), so the served stack it started is stopped with it.
    sys.exit(128 + signum)


def main() -> int:
    from local import headers

    signal.signal(signal.SIGTERM, _stop)
    headers.install()  # the clients' answers parsed as the stack's own requests are (local.headers)
    figures: dict[str, Any] = {"campaign": campaign.run(_plan())}
    figures["keys"] = figures["campaign"].pop("keys")
    report(figures["campaign"])
    keys.report(figures["keys"])
    chart.draw(figures["campaign"], CHART)
    if os.environ.get("BENCH_RATIOS", "1") != "0":
        figures["ratios"] = ratios.measure() | ratios.of_campaign(figures["campaign"])
        ratios.report(figures["ratios"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written to {OUT.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
    return 0 if figures["campaign"]["checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
