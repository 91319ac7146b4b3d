"""Reconciliation: recount from the registrations, repair what drifted, re-drive removals, ask the
other registries, and keep the day's places left (``services.reports`` shows them). Hourly, daily
(full: also asks the registries) and on ``POST /v1/admin/reconcile``.

It fans out through the reconcile queue: one job per segment of a parallel scan, each continuing
itself in a new message when its Lambda time runs low. The last segment to finish settles the run.

Repairs never race a live registration into an oversell:
- a primary counter found too LOW (places held that it does not count) is raised at once: that can
  only hold places back, never give one twice;
- places counted but held by nobody, and the reserve and statistics counters, are corrected only
  when the campaign's counters did not move during the whole scan (a quiescent snapshot), so the
  count is exact; otherwise the drift is reported and the next run tries again.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.doses import VisitStatus, holds_slot
from chalicelib.domain.errors import Conflict, NotFound, Overloaded
from chalicelib.domain.jobs import Segment
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.domain.reports import ReconcileRun
from chalicelib.logs import code_ref
from chalicelib.registries.client import RegistryUnavailable
from chalicelib.registries.factory import client
from chalicelib.services import cancellations, counters, removals, reports
from chalicelib.store.factory import stores

logger = Logger(child=True)

SEGMENTS = 8
# Leave this much of the Lambda's time to hand the rest of a segment to a new message.
RESERVE_MS = 60_000
SNAPSHOT_KEYS = ("primary_taken", "parked", "reserve_active", "reserve_seq")
LEAK_CONFIRM_SECONDS = 180  # longer than any request can run (API Gateway stops at 29 s)
REGISTRY_FAILURES_TO_SKIP = 3
STAT_PREFIXES = ("channel_", "status_", "removal_")


def start(full: bool) -> str:
    """Start a run: queue its segment jobs, re-drive failed and stale removals. Returns its ID."""
    st = stores()
    run_id = "rc_" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "_" + secrets.token_hex(3)
    st.ledger.start_run(
        run_id,
        {
            "status": "running",
            "full": full,
            "segments": SEGMENTS,
            "started_at": datetime.now(UTC).isoformat(),
            "before": _snapshot(),
        },
    )
    for segment in range(SEGMENTS):
        st.reconcile_jobs.send(Segment(run_id=run_id, segment=segment, full=full).model_dump(mode="json"))
    redriven = removals.redrive()
    logger.info("reconciliation started", extra={"run_id": run_id, "full": full, "removals_redriven": redriven})
    return run_id


def _snapshot() -> dict[str, int]:
    st = stores()
    counts = st.quota.counts()
    stats = st.statistics.stats()
    snap = {k: int(getattr(counts, k)) for k in SNAPSHOT_KEYS}
    snap |= {k: v for k, v in stats.items() if k.startswith(STAT_PREFIXES)}
    return snap


def segment(run_id: str, seg: int, full: bool, cursor: Any, tally: dict[str, int], remaining_ms: Any) -> None:
    """Scan one segment (from ``cursor``), adding to ``tally``; hand over if time runs low."""
    st = stores()
    counted: Counter[str] = Counter(tally)
    while True:
        page, cursor = st.registrations.scan_segment(seg, SEGMENTS, cursor)
        for reg in page:
            _tally(reg, counted)
            if full and reg.status is Status.CONFIRMED:
                _check_registries(reg, counted)
            if reg.status is Status.CANCELLED and "phone" in reg.todo:
                _give_back_phone_share(reg, counted)
        if cursor is None:
            break
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:  # checked a page (100) at a time
            job = Segment(run_id=run_id, segment=seg, full=full, cursor=cursor, tally=dict(counted))
            st.reconcile_jobs.send(job.model_dump(mode="json"))
            return
    st.ledger.add_segment(run_id, seg, dict(counted))  # None again for a duplicate delivery
    # Whichever delivery sees every segment in settles the run, once; a retried one too.
    if st.ledger.claim_finish(run_id, int(st.ledger.run(run_id).get("segments", SEGMENTS))):
        finish(run_id)


def _tally(reg: Registration, counted: Counter[str]) -> None:
    if reg.counted:
        # A direct confirmation is counted by the removal sweep (``counted``); until then it is on
        # its way into the statistics, not drift to repair.
        counted[f"status_{reg.status.value}"] += 1
        counted[f"channel_{reg.channel.value}"] += 1
        for registry, state in reg.removals.items():
            counted[f"removal_{registry}_{state}"] += 1
    if reg.status is Status.CONFIRMED or (reg.release_pending and reg.held == "primary"):
        counted["held_primary"] += 1  # a place is held until a cancelled one has handed it on
    if reg.release_pending:
        counted["release_pending"] += 1
    if reg.status is Status.RESERVE or (reg.release_pending and reg.held == "reserve"):
        counted["held_reserve"] += 1
    names = [site.name for site in get_settings().schedule.sites]
    for visit in reg.visits:
        if visit.site not in names:
            continue
        site = names.index(visit.site)
        if holds_slot(visit) and (visit.status is not VisitStatus.BOOKED or reg.status is Status.CONFIRMED):
            counted[f"slot_{visit.date.isoformat()}_{site}"] += 1
        if visit.status is VisitStatus.DONE and visit.given_on is not None:
            counted[f"came_{visit.given_on.isoformat()}_{site}"] += 1


def _give_back_phone_share(reg: Registration, counted: Counter[str]) -> None:
    """A cancellation whose phone share is still owed (its cancel answered 429 and was not sent
    again) gives it back; the next run tries again if the write is refused."""
    try:
        if cancellations.give_back_phone_share(reg):
            counted["phone_shares_given_back"] += 1
    except Overloaded:
        logger.warning("phone share still owed: the next run gives it back")


def _check_registries(reg: Registration, counted: Counter[str]) -> None:
    """(c) Someone removed earlier but booked there again is removed again."""
    for registry in REGISTRIES:
        if reg.removals.get(registry) not in ("removed", "not_found"):
            continue
        if counted[f"unreachable_{registry}"] >= REGISTRY_FAILURES_TO_SKIP:
            continue  # down: do not spend the segment's time on it; the next run asks again
        try:
            present = client(registry).is_registered(reg.national_id)
        except RegistryUnavailable:
            counted[f"unreachable_{registry}"] += 1
            continue
        if present:
            was = reg.removals[registry]
            if stores().registrations.reopen_removal(reg, registry, was):
                counters.add(counters.removal_deltas(registry, was, "pending"))
                reg.removals[registry] = "pending"
                removals.note(reg.registration_id, force=True)
                counted[f"reappeared_{registry}"] += 1


def finish(run_id: str) -> dict[str, Any]:
    """Compare the recount with the counters and repair what can be repaired safely."""
    st = stores()
    run = st.ledger.run(run_id)
    before: dict[str, int] = {k: int(v) for k, v in run.get("before", {}).items()}
    after = _snapshot()
    quiet = before == after
    tally = {k[2:]: int(v) for k, v in run.items() if k.startswith("t_")}
    counts = st.quota.counts()
    findings: dict[str, Any] = {"quiescent": quiet, "repaired": [], "drift": {}}

    counted_held = counts.primary_taken - counts.parked
    held = tally.get("held_primary", 0)
    # A scan is not a snapshot: a place being handed on can be counted twice (the vacancy and its
    # new holder). Quota repairs therefore need a quiet run with no hand-over in progress.
    settled = quiet and tally.get("release_pending", 0) == 0
    if held > counted_held:
        if settled:
            st.quota.raise_primary(held - counted_held)
            findings["repaired"].append(f"primary counter raised by {held - counted_held}")
        else:
            findings["drift"]["primary_uncounted"] = held - counted_held
    elif held < counted_held:
        leak = counted_held - held
        # A registration between taking its place and writing its item looks like a leak; it has
        # finished within seconds. Only a leak seen again, unchanged, a while later is given back.
        if settled and st.ledger.confirm_leak(leak, counts.primary_taken, counts.parked, LEAK_CONFIRM_SECONDS):
            promoted = _leaked_to_reserve(run_id, leak)
            if promoted:
                findings["repaired"].append(f"{promoted} leaked places given to the reserve")
            if promoted < leak and st.quota.return_leaked(leak - promoted):
                findings["repaired"].append(f"{leak - promoted} leaked places returned")
            elif promoted < leak:
                findings["drift"]["primary_leaked"] = leak - promoted
        else:
            findings["drift"]["primary_leaked"] = leak
    reserve_held = tally.get("held_reserve", 0)
    # Exits recorded that the gate does not count yet (a run died between an exit's two writes):
    # taking them off is exact whatever runs meanwhile (``ReserveStore.apply_exits``).
    if reserve_held < counts.reserve_active and (applied := st.reserve.apply_exits()):
        findings["repaired"].append(f"{applied} reserve exits taken off the active count")
        counts = st.quota.counts()
    if reserve_held < counts.reserve_active and settled:
        # Tickets counted on the reserve that hold nobody waiting (a request died between taking
        # its ticket and storing its registration): they leave the reserve, and ranks behind move up.
        if voided := _settle_reserve(counts.reserve_seq):
            findings["repaired"].append(f"{voided} abandoned reserve tickets voided")
        counts = st.quota.counts()
    if reserve_held != counts.reserve_active:
        findings["drift"]["reserve_active"] = reserve_held - counts.reserve_active
    deltas = {
        key: tally.get(key, 0) - after.get(key, 0)
        for key in sorted(set(tally) | {k for k in after if k.startswith(STAT_PREFIXES)})
        if key.startswith(STAT_PREFIXES) and tally.get(key, 0) != after.get(key, 0)
    }
    # A registration between writing its item and counting it shows as +1 even in a quiet run:
    # statistics are corrected only when the next run finds the same drift with the same counters.
    sighting = json.dumps({"deltas": deltas, "counters": after}, sort_keys=True)
    if deltas and quiet and st.ledger.confirm_sighting("stats", sighting):
        for key, delta in deltas.items():
            st.statistics.adjust_stat(key, delta)
            findings["repaired"].append(f"{key} {delta:+d}")
    else:
        findings["drift"].update(deltas)
    if given_back := tally.get("phone_shares_given_back", 0):
        findings["repaired"].append(f"{given_back} phone shares given back")
    _check_days(tally, findings)
    findings["registries"] = {k: v for k, v in tally.items() if k.startswith(("unreachable_", "reappeared_"))}
    _keep_places_of_the_day()
    st.ledger.finish_run(run_id, findings)
    if findings["repaired"]:
        metrics.add("ReconcileRepair", value=len(findings["repaired"]))
    logger.info(
        "reconciliation finished", extra={"run_id": run_id, "quiescent": quiet, "repairs": len(findings["repaired"])}
    )
    return findings


def _check_days(tally: dict[str, int], findings: dict[str, Any]) -> None:
    """(e) Bookings per day and site against the slot counters and the capacity, and doses given
    against the check-ins recorded. A counter below the bookings is raised at once (that only holds
    places back); a counter above them may be a booking in flight, so it is only reported."""
    st = stores()
    schedule = get_settings().schedule
    sites = schedule.sites
    keys = {(k.split("_", 2)[1], int(k.split("_", 2)[2])) for k in tally if k.startswith(("slot_", "came_"))}
    if keys:
        # Every site's every open day up to the last one booked: a place held by nobody shows too.
        last = max(date.fromisoformat(day) for day, _ in keys)
        for open_day in schedule.open_days(schedule.first_day):
            if open_day > last:
                break
            keys |= {(open_day.isoformat(), site) for site in range(len(sites))}
    slots = st.slots.slots(sorted(keys))
    for (day, site), slot in sorted(slots.items()):
        held = tally.get(f"slot_{day}_{site}", 0)
        where = f"{day}/{sites[site].name if site < len(sites) else site}"
        if held > slot.used:
            st.slots.raise_slot(day, site, held - slot.used)
            findings["repaired"].append(f"bookings of {where} raised by {held - slot.used}")
        elif held < slot.used:
            findings["drift"][f"slot_unheld {where}"] = slot.used - held
        if site < len(sites) and max(held, slot.used) > sites[site].capacity:
            findings["drift"][f"slot_over_capacity {where}"] = max(held, slot.used) - sites[site].capacity
        given = tally.get(f"came_{day}_{site}", 0)
        if given != len(slot.came):
            findings["drift"][f"check_ins {where}"] = given - len(slot.came)


def _settle_reserve(limit: int) -> int:
    """Let every ticket still counted on the reserve that holds nobody waiting leave it. Returns how many."""
    from chalicelib.services import promotion

    st = stores()
    before = st.quota.counts().reserve_active
    for number in st.reserve.waiting_tickets(limit=limit):
        try:
            promotion.settle_ticket(st, number)
        except promotion.RetryLater:
            continue  # being written: the next run looks again
    return before - st.quota.counts().reserve_active


def _leaked_to_reserve(run_id: str, leak: int) -> int:
    """Hand confirmed leaked places to the reserve, rank 1 first, as a cancellation's place would be
    (while anyone waits, a place may not go back to newcomers, so it would otherwise stay lost).
    Each place is its own vacancy, so a promotion is recorded as made by it. Returns how many."""
    from chalicelib.services import promotion

    st = stores()
    given = 0
    for n in range(leak):
        try:
            candidate = promotion.first_waiting(st)
        except promotion.RetryLater:
            break  # a ticket is in flight: the next run sees the leak again
        if candidate is None:
            break
        try:
            promoted = st.registrations.promote(candidate, f"leak-{run_id}-{n}", datetime.now(UTC))
        except Conflict:
            break
        if promoted.ticket:
            st.reserve.reserve_exit(promoted.registration_id, promoted.ticket)
        counters.promoted(promoted)
        removals.note(promoted.registration_id, force=True)
        given += 1
        logger.info(
            "leaked place given to the reserve",
            extra={"run_id": run_id, "promoted_ref": code_ref(promoted.registration_id)},
        )
    return given


def _keep_places_of_the_day() -> None:
    """(d) The places left as last seen on this day, for the daily report of past days."""
    now = datetime.now(UTC)
    places = reports.places_left_now(now)
    stores().ledger.put_places_snapshot(rules.today_in_bangkok(now).isoformat(), places)


def status(run_id: str) -> ReconcileRun:
    """Progress and findings of a run. Raises NotFound."""
    run = stores().ledger.run(run_id) if run_id.startswith("rc_") else {}
    if not run:
        raise NotFound()
    return ReconcileRun(
        run_id=run_id,
        status=run.get("status", "running"),
        full=bool(run.get("full")),
        segments=int(run.get("segments", SEGMENTS)),
        segments_done=int(run.get("done_count", 0)),
        started_at=run.get("started_at"),
        findings=run.get("findings"),
    )
