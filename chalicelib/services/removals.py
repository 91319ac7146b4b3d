"""Removal of confirmed people from Mor Phrom and Khon Kaen Phrom: one sweep for both registries.

A confirmed registration is written with each removal ``pending`` and a place in a sparse index
(``removal_due``): the outbox. Nothing is queued per person. The sweep reads the index once per
batch (up to ``BATCH`` registrations due), asks both registries about each person, and writes each
registration once with both answers (leaving the index when nothing is open), then adds the batch's
counters in one write: the statistics of a direct confirmation are added here, once (``counted``).

Per-registry backoff: a registry that fails is left alone until its backoff has passed (doubling
from a minute to an hour), while the healthy one goes on; the registrations it still owes are due
again then, not every minute. After ``MAX_TRIES`` failed calls for one person a removal is
``failed`` (an alarm, and reconciliation re-drives it). One sweep runs at a time (a lease on the
campaign table's ``removals`` item); it continues itself through the removal queue while it finds
work, and is started by the minute schedule and by a container that has just confirmed someone
(at most every ``REMOVAL_KICK_SECONDS``).

An index sweep that finds nothing due records ``counted_to`` (in the write that ends it): every
confirmation made before it is in the statistics. The admin summary answers it as ``as_of``: the
last confirmations of a quiet burst wait in their container's list, or for the index sweep's grace.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.domain.errors import Overloaded
from chalicelib.domain.jobs import RemovalSweep
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.registries.client import RegistryUnavailable
from chalicelib.registries.factory import client
from chalicelib.services import counters
from chalicelib.store.factory import stores

logger = Logger(child=True)

BATCH = 500
LEASE_SECONDS = 120.0
MAX_TRIES = 5
BACKOFF_FIRST_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 3600.0
# A removal given up (failed) is looked at again by the daily reconciliation's re-drive.
FAILED_RETRY_AFTER = timedelta(days=1)
# Stop taking new people when this little of the Lambda's time is left (the rest stay due).
RESERVE_MS = 8_000
CALLERS = 16
OPEN = ("pending", "failed")
# A removal an erasure made pointless (see ``_batch``).
NOT_NEEDED = "not_needed"

_kicked = {"at": -1e9}
_kick_lock = threading.Lock()
# Receipt codes of the confirmations this container made and has not handed to a sweep yet.
_noted: list[str] = []
LIST_MAX = 500
# The index sweep leaves registrations this young to the lists their containers are sending.
LIST_GRACE = timedelta(minutes=1)


def forget() -> None:
    """Drop the receipt codes not handed to a sweep yet, and the kick's clock (a new backend)."""
    with _kick_lock:
        _noted.clear()
        _kicked["at"] = -1e9


def note(code: str | None = None, force: bool = False) -> None:
    """A confirmation to remove: handed to a sweep in a list with the others this container made,
    at most every ``REMOVAL_KICK_SECONDS`` (or ``LIST_MAX`` at a time); every registration request
    calls it (``code`` None) so that the last ones of a burst leave with the next request of any
    kind. A list that is lost (the container dies, SQS refuses it) is found by the minute sweep
    through the index."""
    every = float(os.environ.get("REMOVAL_KICK_SECONDS", "5"))
    now = time.monotonic()
    with _kick_lock:
        if code is not None:
            _noted.append(code)
        if not _noted or (not force and now - _kicked["at"] < every and len(_noted) < LIST_MAX):
            return
        _kicked["at"] = now
        codes = list(_noted)
        _noted.clear()
    try:
        stores().removal_jobs.send(RemovalSweep(codes=codes).model_dump(mode="json", exclude_none=True))
    except Overloaded:
        logger.warning("removal list not sent; the minute sweep finds them", extra={"count": len(codes)})


def kick(force: bool = False, as_of: datetime | None = None) -> None:
    """Start a sweep of the index: at most once every ``REMOVAL_KICK_SECONDS`` per container unless
    ``force``. Best effort: the minute schedule kicks too."""
    every = float(os.environ.get("REMOVAL_KICK_SECONDS", "5"))
    now = time.monotonic()
    with _kick_lock:
        if not force and now - _kicked["at"] < every:
            return
        _kicked["at"] = now
    try:
        # The message names its sweep: a redelivery (its first run died holding the lease) goes on
        # with the same lease instead of waiting for it to run out.
        job = RemovalSweep(chain="s_" + secrets.token_hex(6), as_of=as_of)
        stores().removal_jobs.send(job.model_dump(mode="json", exclude_none=True))
    except Overloaded:
        logger.warning("removal sweep not kicked; the schedule will")


def sweep(now: datetime | None = None) -> int:
    """The minute schedule: start a sweep (a running one keeps its lease). Returns 1."""
    kick(force=True, as_of=now)
    return 1


def run(job: RemovalSweep, remaining_ms: Callable[[], int] | None = None) -> int:
    """One batch of a sweep (a container's list, or the index); an index sweep queues the next batch
    while there is work. Returns how many removals were settled."""
    if job.codes:
        return _run_list(job.codes, remaining_ms)
    st = stores()
    holder = job.chain or "s_" + secrets.token_hex(6)
    clock = job.as_of.timestamp() if job.as_of else time.time()
    control = st.removal_control.lease_removals(holder, clock, LEASE_SECONDS)
    if control is None:
        return 0  # another sweep holds the lease: it will see these too
    health = {r: (float(control.get(f"down_{r}", 0)), int(control.get(f"fails_{r}", 0))) for r in REGISTRIES}
    as_of = job.as_of or datetime.now(UTC) - LIST_GRACE
    due = st.registrations.due_removals(as_of, BATCH)
    if not due:
        # Nothing made before ``as_of`` is left uncounted (every batch counts what it writes): the
        # admin summary's figures are complete up to then. Said in the write that ends the sweep.
        st.removal_control.end_removals(holder, health, counted_to=min(as_of, datetime.now(UTC)))
        return 0
    settled = _batch(due, health, remaining_ms, as_of.timestamp())
    # The lease is kept across the chain; health travels in the control item.
    st.removal_control.end_removals(holder, health, release=False)
    st.removal_jobs.send(
        RemovalSweep(chain=holder, as_of=job.as_of).model_dump(mode="json", exclude_none=True),
        # A full batch goes on at once; otherwise a moment later, so that the next batch is fuller.
        delay_seconds=0 if len(due) == BATCH else int(os.environ.get("REMOVAL_CONTINUE_SECONDS", "1")),
    )
    return settled


def _run_list(codes: list[str], remaining_ms: Callable[[], int] | None) -> int:
    """The confirmations one container listed: no index read, no lease (lists do not overlap, and
    every write is conditional on what was read)."""
    st = stores()
    control = st.removal_control.removal_control()
    health = {r: (float(control.get(f"down_{r}", 0)), int(control.get(f"fails_{r}", 0))) for r in REGISTRIES}
    before = dict(health)
    regs = [r for r in st.registrations.by_codes(codes) if not r.counted or any(s in OPEN for s in r.removals.values())]
    settled = _batch(regs, health, remaining_ms, time.time()) if regs else 0
    if health != before:
        st.removal_control.save_registry_health(health)
    return settled


def _batch(
    regs: list[Registration],
    health: dict[str, tuple[float, int]],
    remaining_ms: Callable[[], int] | None,
    now: float,
) -> int:
    up = {r for r in REGISTRIES if health[r][0] <= now}
    answers: dict[tuple[str, str], str | None] = {}  # (code, registry) -> answer, None = failed
    work = [(reg, r) for reg in regs for r in REGISTRIES if r in up and reg.removals.get(r) in OPEN and not reg.erased]
    # An erased person (cancelled by their erasure, or past retention) holds no place here any more
    # and no national ID to ask with: a removal still open is not needed, and settles so, uncalled.
    settled_unasked = {
        (reg.registration_id, r): NOT_NEEDED
        for reg in regs
        if reg.erased
        for r in REGISTRIES
        if reg.removals.get(r) in OPEN
    }

    def call(item: tuple[Registration, str]) -> None:
        reg, registry = item
        if registry not in up or (remaining_ms is not None and remaining_ms() < RESERVE_MS):
            return
        try:
            answers[(reg.registration_id, registry)] = client(registry).remove(reg.national_id)
        except RegistryUnavailable:
            answers[(reg.registration_id, registry)] = None
            if registry in up:
                up.discard(registry)  # down: the rest of the batch waits for its backoff
                fails = health[registry][1] + 1
                backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (fails - 1))
                health[registry] = (now + backoff, fails)
                metrics.add("RemovalRetried", registry=registry)
                logger.warning("registry down: backing off", extra={"registry": registry, "seconds": backoff})

    # One call per registry first: a registry that is down costs one call, not one per person.
    probes = {r: next((w for w in work if w[1] == r), None) for r in REGISTRIES}
    for probe in probes.values():
        if probe is not None:
            call(probe)
    rest = [w for w in work if w not in probes.values()]
    st = stores()

    def record(reg: Registration) -> tuple[dict[str, str], bool, bool | Exception]:
        states, tries, next_due = _outcome(reg, answers, health, now)
        count = not reg.counted
        try:
            return states, count, st.registrations.record_removals(reg, states, next_due, count, tries)
        except Exception as exc:  # noqa: BLE001 - raised below, once the others' counters are added
            return states, count, exc

    # The registries' calls go out together, then the writes (each conditional on its own
    # registration): on a host that runs the engine apart (``make run``), one write's round trip no
    # longer waits for the last. The pool's threads are named after this one (``make run``'s meter
    # counts the workers' calls).
    with ThreadPoolExecutor(max_workers=CALLERS, thread_name_prefix=threading.current_thread().name) as pool:
        list(pool.map(call, rest))
        for r in REGISTRIES:
            if r in up and any(answers.get((reg.registration_id, r)) for reg in regs):
                health[r] = (0.0, 0)
        answers |= settled_unasked
        recorded = list(pool.map(record, regs))
    deltas: Counter[str] = Counter()
    settled = 0
    failed: Exception | None = None
    for reg, (states, count, written) in zip(regs, recorded, strict=True):
        if isinstance(written, Exception):
            failed = failed or written
            continue
        if not written:
            continue  # changed meanwhile (another sweep): the next batch looks again
        if count:
            deltas.update(counters.registered_deltas(reg.model_copy(update={"status": Status.CONFIRMED})))
        for r in REGISTRIES:
            was = reg.removals.get(r)
            now_state = states.get(r, was)
            if now_state is None or (not count and now_state == was):
                continue
            deltas.update(counters.removal_deltas(r, None if count else was, now_state))
            if now_state in ("removed", "not_found"):
                settled += 1
                metrics.add("RemovalRemoved" if now_state == "removed" else "RemovalNotFound", registry=r)
            elif now_state == "failed" and was != "failed":
                metrics.add("RemovalFailed", registry=r)
                # No code and no ref: the removal worker holds no HMAC key (by design); the
                # registration is found by its state (reconciliation re-drives failed removals).
                logger.error("removal failed for good", extra={"registry": r})
    counters.add(dict(deltas))
    if failed is not None:
        raise failed  # the written ones are counted; the rest stay due
    return settled


def _outcome(
    reg: Registration, answers: dict[tuple[str, str], str | None], health: dict[str, tuple[float, int]], now: float
) -> tuple[dict[str, str], dict[str, int], datetime | None]:
    """A registration's new removal states, tries and next due time (None: nothing left open)."""
    states: dict[str, str] = {}
    tries: dict[str, int] = {}
    due: list[float] = []
    for r in REGISTRIES:
        was = reg.removals.get(r)
        if was not in OPEN:
            continue
        key = (reg.registration_id, r)
        if key in answers and answers[key] is not None:
            states[r] = str(answers[key])
            continue
        given_up = False
        if key in answers:  # the call failed
            tries[r] = reg.tries.get(r, 0) + 1
            given_up = tries[r] >= MAX_TRIES
            if given_up and was == "pending":
                states[r] = "failed"
        # Given up: reconciliation's daily re-drive asks again; otherwise when the registry's backoff ends.
        due.append(now + FAILED_RETRY_AFTER.total_seconds() if given_up else max(health[r][0], now))
    return states, tries, datetime.fromtimestamp(min(due), UTC) if due else None


def redrive(now: datetime | None = None) -> int:
    """Reconciliation: every removal that failed is due now (a pending one is the sweep's, with its
    backoff). Returns how many."""
    st = stores()
    now = now or datetime.now(UTC)
    requeued = 0
    for reg in st.registrations.open_removals():
        if any(s == "failed" for s in reg.removals.values()) and st.registrations.make_due(reg, now):
            requeued += 1
    if requeued:
        kick(force=True)
    return requeued
