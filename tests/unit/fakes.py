"""In-memory stores: the protocols of ``chalicelib.store.protocols`` on plain dicts.

Each fake keeps the conditions of the DynamoDB store it stands in for: the same writes are refused
with the same domain errors (``Conflict``, ``Taken``) or the same answers (False, None), so a
service's decisions can be tested in milliseconds without AWS. They are single-threaded: races are
the engine-backed suites' (tests/race, tests/fault). A queue or store can be told to fail with
``fail_with`` to test what a service does when AWS refuses.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.batches import BatchMeta, RowResult
from chalicelib.domain.doses import Visit, next_booked
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import REGISTRIES, Appointment, Channel, Registration, Status
from chalicelib.domain.queue import QueueState
from chalicelib.domain.staff import REFUSED_AUDIT_PER_MINUTE, AuditEntry, StaffToken
from chalicelib.domain.verification import (
    CODE_TTL_SECONDS,
    CODES_PER_DAY,
    DAY_SECONDS,
    LOCKOUT_FAILURES,
    LOCKOUT_WINDOW_SECONDS,
    PHONE_KEY_BYTES,
    RECEIPT_RESEND_SECONDS,
    RECEIPTS_PER_DAY,
    RESEND_AFTER_SECONDS,
    VERIFICATION_KEEP_SECONDS,
    WRONG_CODES_ALLOWED,
    phone_key_of,
)
from chalicelib.registries.client import RegistryUnavailable
from chalicelib.store.registrations.keys import home
from chalicelib.store.reserve import TICKET_BLOCK
from chalicelib.store.types import (
    Glance,
    Overflow,
    PendingVerification,
    PhoneState,
    PlaceCounts,
    QueueBucket,
    QueueTicket,
    Share,
    SlotDay,
    Taken,
    Ticket,
    code_digest,
    person_of,
)

OPEN = ("pending", "failed")
ACTIVE = (Status.CONFIRMED, Status.RESERVE)


class FakeRegistrations:
    """Registrations by receipt code; each person's current one found through their pointer."""

    def __init__(self) -> None:
        self.regs: dict[str, Registration] = {}
        self.person: dict[str, str] = {}  # home(pointer) -> code of the current registration
        self.idem: dict[str, str | None] = {}
        self.removal_due: dict[str, datetime] = {}
        self.waiting: dict[str, datetime] = {}  # confirmed, no appointment yet (the allocation index)
        self.releases: dict[str, datetime] = {}
        self.reclaimed: dict[str, str] = {}  # old code -> new code (a counter reclaim)
        self.to_newcomers: set[str] = set()  # releases whose place was handed to newcomers
        self.fail_with: BaseException | None = None

    # -- the person's registration --------------------------------------------------------------

    def create(self, reg: Registration, pointer: bytes, fingerprint: str | None) -> None:
        self._maybe_fail()
        key = home(pointer)
        code = self.person.get(key)
        if code is not None:
            current = self.regs[code]
            if current.status is not Status.CANCELLED:
                raise Taken(_copy(current), self.idem.get(code))
            self.regs[code] = current.model_copy(update={"archived": True})
        self.person[key] = reg.registration_id
        self.regs[reg.registration_id] = _copy(reg)
        self.idem[reg.registration_id] = fingerprint
        if any(s in OPEN for s in reg.removals.values()):
            self.removal_due[reg.registration_id] = reg.registered_at
        if reg.status is Status.CONFIRMED and reg.appointment is None:
            self.waiting[reg.registration_id] = reg.registered_at

    def withdraw(self, reg: Registration, pointer: bytes) -> bool:
        self._maybe_fail()
        key = home(pointer)
        current = self.regs.get(reg.registration_id)
        if self.person.get(key) != reg.registration_id or current is None or current.version:
            return False  # not ours (any more), or changed since it was written
        del self.person[key]
        for index in (self.regs, self.idem, self.removal_due, self.waiting, self.releases):
            index.pop(reg.registration_id, None)
        return True

    def current(self, pointer: bytes) -> tuple[Registration, str | None] | None:
        code = self.person.get(home(pointer))
        return (_copy(self.regs[code]), self.idem.get(code)) if code else None

    def get(self, code: str) -> Registration | None:
        reg = self.regs.get(code)
        return _copy(reg) if reg else None

    def find(self, code: str) -> Registration | None:
        return self.get(self.reclaimed.get(code, code))

    def reclaim(
        self, reg: Registration, new_code: str, details: dict[str, str], label: str, now: datetime
    ) -> Registration:
        self._maybe_fail()
        current = self.regs.get(reg.registration_id)
        if current is None or current.version != reg.version or current.status not in ACTIVE:
            raise Conflict("changed")
        # The details come as the store writes them (text); validated, as the store's codec reads them.
        moved = Registration.model_validate(
            current.model_dump()
            | details
            | {"registration_id": new_code, "channel": Channel.COUNTER, "label": label, "version": current.version + 1}
        )
        for index in (self.regs, self.idem, self.removal_due, self.waiting, self.releases):
            if reg.registration_id in index:
                index[new_code] = index.pop(reg.registration_id)  # type: ignore[assignment]
        self.regs[new_code] = moved
        self.idem[new_code] = None
        self.person = {k: (new_code if v == reg.registration_id else v) for k, v in self.person.items()}
        # Every code it had names it (the store keeps a digest of each), not only the last one.
        self.reclaimed = {old: (new_code if to == reg.registration_id else to) for old, to in self.reclaimed.items()}
        self.reclaimed[reg.registration_id] = new_code
        return _copy(moved)

    # -- state changes ----------------------------------------------------------------------------

    def cancel(self, reg: Registration, now: datetime) -> Registration:
        cur = self._cur(reg.registration_id)
        if cur.status is not reg.status:
            raise Conflict("registration changed")
        self.waiting.pop(cur.registration_id, None)
        self.releases[cur.registration_id] = now
        return self._set(cur, status=Status.CANCELLED, **_cancellation(cur, now))

    def take_step(self, registration_id: str, step: str) -> bool:
        cur = self._cur(registration_id)
        if step not in cur.todo:
            return False
        self._set(cur, todo=[s for s in cur.todo if s != step])
        return True

    def promote(self, registration_id: str, vacancy_id: str, now: datetime) -> Registration:
        cur = self._cur(registration_id)
        if cur.status is not Status.RESERVE:
            raise Conflict("registration changed")
        self.removal_due[registration_id] = now
        self.waiting[registration_id] = now
        return self._set(
            cur,
            status=Status.CONFIRMED,
            promoted_by=vacancy_id,
            removals=dict.fromkeys(REGISTRIES, "pending"),
            counted=True,
        )

    def record_removals(
        self, reg: Registration, states: dict[str, str], due: datetime | None, count: bool, tries: dict[str, int]
    ) -> bool:
        cur = self._cur(reg.registration_id)
        if any(cur.removals.get(r) != reg.removals.get(r) for r in states) or (count and cur.counted):
            return False
        if due is None:
            self.removal_due.pop(cur.registration_id, None)
        else:
            self.removal_due[cur.registration_id] = due
        self._set(
            cur,
            removals=cur.removals | states,
            tries=cur.tries | tries,
            counted=cur.counted or count,
        )
        return True

    def set_visits(self, reg: Registration, visits: list[Visit], waiting: bool = False) -> Registration:
        return self._write_visits(reg, visits, Status.CONFIRMED, waiting=waiting)

    def drop_visits(self, reg: Registration, visits: list[Visit]) -> Registration:
        return self._write_visits(reg, visits, Status.CANCELLED)

    def cancel_no_show(self, reg: Registration, visits: list[Visit], now: datetime) -> Registration:
        extra = _cancellation(reg, now) | {"cancel_reason": "no_show"}
        cancelled = self._write_visits(reg, visits, Status.CONFIRMED, then=Status.CANCELLED, extra=extra)
        self.releases[reg.registration_id] = now
        return cancelled

    def _write_visits(
        self,
        reg: Registration,
        visits: list[Visit],
        status: Status,
        waiting: bool = False,
        then: Status | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Registration:
        cur = self._cur(reg.registration_id)
        if cur.status is not status or cur.appt_rev != reg.appt_rev:
            raise Conflict("registration changed")
        upcoming = next_booked(visits) if (then or status) is Status.CONFIRMED else None
        if waiting:
            self.waiting[cur.registration_id] = datetime.now(UTC)
        else:
            self.waiting.pop(cur.registration_id, None)
        changes: dict[str, Any] = {
            "visits": list(visits),
            "appt_rev": reg.appt_rev + 1,
            "appointment": Appointment(date=upcoming.date, site=upcoming.site) if upcoming else None,
        }
        if then is not None:
            changes["status"] = then
        return self._set(cur, **changes, **(extra or {}))

    def mark_sms(self, registration_id: str, key: str) -> bool:
        cur = self._cur(registration_id)
        if cur.sms_sent_for == key:
            return False
        self._set(cur, sms_sent_for=key)
        return True

    def reopen_removal(self, reg: Registration, registry: str, was: str) -> bool:
        cur = self._cur(reg.registration_id)
        if cur.removals.get(registry) != was:
            return False
        self.removal_due[cur.registration_id] = datetime.now(UTC)
        self._set(cur, removals=cur.removals | {registry: "pending"})
        return True

    def make_due(self, reg: Registration, now: datetime) -> bool:
        cur = self._cur(reg.registration_id)
        if reg.registration_id not in self.removal_due:
            return False
        self.removal_due[reg.registration_id] = now
        self._set(cur)
        return True

    def set_release_target(self, registration_id: str, target: str | None, expected: str | None) -> None:
        cur = self._cur(registration_id)
        if not cur.release_pending or cur.release_target != expected:
            raise Conflict("registration changed")
        self._set(cur, release_target=target)

    def finish_release(self, registration_id: str) -> None:
        self.releases.pop(registration_id, None)
        cur = self.regs.get(registration_id)
        if cur is not None:
            self._set(cur, release_pending=False, release_target=None)

    def hand_to_newcomers(self, registration_id: str, now: datetime) -> bool:
        cur = self.regs.get(registration_id)
        if cur is None or not cur.release_pending or cur.release_target is not None:
            return False
        self.releases.pop(registration_id, None)
        self.to_newcomers.add(registration_id)
        self._set(cur, release_pending=False)
        return True

    def reopen_release(self, registration_id: str, now: datetime) -> None:
        if registration_id not in self.to_newcomers:
            raise Conflict("not handed to newcomers")
        self.to_newcomers.discard(registration_id)
        self.releases[registration_id] = now
        self._set(self._cur(registration_id), release_pending=True)

    # -- indexes and scans ----------------------------------------------------------------------

    def due_removals(self, now: datetime, limit: int) -> list[Registration]:
        due = sorted((at, code) for code, at in self.removal_due.items() if at <= now)
        return [_copy(self.regs[code]) for _, code in due[:limit]]

    def by_codes(self, codes: list[str]) -> list[Registration]:
        # A code a counter reclaim replaced names the registration under its new code (as ``find``).
        found = (self.regs.get(self.reclaimed.get(c, c)) for c in codes)
        return [_copy(r) for r in found if r is not None and not r.archived]

    def get_many(self, codes: list[str]) -> list[Registration]:
        named = dict.fromkeys(self.reclaimed.get(c, c) for c in codes)
        return [_copy(self.regs[c]) for c in named if c in self.regs]

    def appointments_page(
        self, day: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        return _paged(sorted(r.registration_id for r in self.appointments_on(day)), cursor, limit)

    def open_removals(self) -> list[Registration]:
        return [_copy(self.regs[c]) for c in self.removal_due]

    def waiting_for_appointment(
        self, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        order = sorted(f"{at.isoformat()}|{code}" for code, at in self.waiting.items())
        keys, next_cursor = _paged(order, cursor, limit)
        return [_copy(self.regs[k.split("|", 1)[1]]) for k in keys], next_cursor

    def appointments_on(self, day: str) -> list[Registration]:
        on_day = [r for r in self.regs.values() if r.appointment is not None and r.appointment.date.isoformat() == day]
        return [_copy(r) for r in sorted(on_day, key=lambda r: r.registered_at)]

    def pending_releases(self, older_than: datetime, limit: int = 100) -> list[str]:
        return [code for code, at in sorted(self.releases.items(), key=lambda kv: kv[1]) if at < older_than][:limit]

    def page(self, status: Status | None, cursor: str | None, limit: int) -> tuple[list[Registration], str | None]:
        codes = [c for c, r in sorted(self.regs.items()) if status is None or r.status is status]
        found, next_cursor = _paged(codes, {"after": cursor} if cursor else None, limit)
        return [_copy(self.regs[c]) for c in found], str(next_cursor["after"]) if next_cursor else None

    def scan_segment(
        self, segment: int, total: int, cursor: dict[str, Any] | None, page: int = 100
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        mine = [c for i, c in enumerate(sorted(self.regs)) if i % total == segment]
        found, next_cursor = _paged(mine, cursor, page)
        return [_copy(self.regs[c]) for c in found], next_cursor

    # -- plumbing -------------------------------------------------------------------------------

    def _cur(self, code: str) -> Registration:
        self._maybe_fail()
        cur = self.regs.get(code)
        if cur is None:
            raise Conflict("registration changed")
        return cur

    def _set(self, cur: Registration, **changes: Any) -> Registration:
        # Every change counts a version, as the store's (``withdraw`` and ``reclaim`` compare it).
        new = cur.model_copy(update=changes | {"version": cur.version + 1})
        self.regs[cur.registration_id] = new
        return _copy(new)

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


@dataclass
class FakeGate:
    """The gate item: the quota's parked places and the reserve's counters, and per block of tickets
    the exits taken off the active count."""

    parked: int = 0
    ra: int = 0
    seq: int = 0
    xb: dict[int, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    # Seen full (no place parked, the reserve at capacity): refusals do not ask again until a place
    # is freed here (a park, a leak returned, a reserve exit), as the store's ``Gate.full_until``.
    full: bool = False


class FakeQuota:
    def __init__(self, gate: FakeGate, primary_capacity: int, reserve_capacity: int) -> None:
        self.gate = gate
        self.capacity = primary_capacity
        self.reserve_capacity = reserve_capacity
        self.taken = 0
        self.in_hand = 0

    def take_primary(self, in_hand_only: bool = False) -> bool:
        if self.in_hand:
            self.in_hand -= 1
            return True
        if in_hand_only:
            return False
        if self.taken < self.capacity:
            self.taken += 1
            return True
        return False

    def keep(self) -> None:
        self.in_hand += 1

    def refill(self) -> None:
        """Places in hand are a cost saving of the engine-backed store; the fake takes one at a time."""

    def known_full(self) -> bool:
        return self.gate.full

    def gate_due(self) -> bool:
        return self.taken >= self.capacity and not self.gate.full

    def see_gate(self, gate: dict[str, Any]) -> None:
        if int(gate.get("parked", 0)) <= 0 and int(gate.get("ra", 0)) >= self.reserve_capacity:
            self.gate.full = True

    def raise_primary(self, places: int) -> None:
        self.taken += places

    def take_overflow(self, counts: dict[str, int] | None = None) -> Overflow | None:
        g = self.gate
        if g.parked == 0 and g.ra < self.reserve_capacity:
            g.ra += 1
            g.seq += 1
            for k, v in (counts or {}).items():
                g.stats[k] = g.stats.get(k, 0) + v
            return Overflow(ticket=g.seq, rank=g.ra)
        if g.parked > 0:
            g.parked -= 1
            return Overflow(ticket=None)
        # Without a reserve the store learns "full" from the gate as read (``see_gate``) only.
        self.gate.full = self.reserve_capacity > 0
        return None

    def park(self) -> bool:
        if self.gate.ra != 0:
            return False
        self.gate.parked += 1
        self.gate.full = False
        return True

    def return_leaked(self, places: int) -> bool:
        if self.gate.ra != 0:
            return False
        self.gate.parked += places
        self.gate.full = False
        return True

    def counts(self) -> PlaceCounts:
        g = self.gate
        return PlaceCounts(self.taken, g.parked, g.ra, g.seq, self.in_hand)


class FakeReserve:
    def __init__(self, gate: FakeGate) -> None:
        self.gate = gate
        self.tickets: dict[int, dict[str, Any]] = {}
        self.exits: set[int] = set()

    def put_ticket(self, ticket: int, registration_id: str, now: float) -> None:
        item = self.tickets.setdefault(ticket, {})
        if item.get("abandoned"):
            raise Conflict("ticket voided")
        item |= {"registration_id": registration_id, "issued_at": round(now, 3)}

    def ticket(self, ticket: int) -> Ticket:
        item = self.tickets.get(ticket, {})
        return Ticket(ticket, item.get("registration_id"), item.get("issued_at"), bool(item.get("abandoned")))

    def watch_ticket(self, ticket: int, now: float) -> float:
        item = self.tickets.setdefault(ticket, {})
        if item.get("abandoned"):
            raise Conflict("ticket voided")
        return float(item.setdefault("seen_empty_at", round(now, 3)))

    def void_ticket(self, ticket: int, holder: str | None) -> None:
        item = self.tickets.setdefault(ticket, {})
        if item.get("registration_id") != holder:
            raise Conflict("ticket holder changed")
        item["abandoned"] = True

    def reserve_exit(self, leaver: str, ticket: int) -> None:
        self.exits.add(ticket)  # once per ticket, whoever reports it (as the store)
        self.apply_exits()
        self.gate.full = False

    def apply_exits(self) -> int:
        applied = 0
        for block in {(t - 1) // TICKET_BLOCK for t in self.exits}:
            exits = sum(1 for t in self.exits if (t - 1) // TICKET_BLOCK == block)
            lacking = exits - self.gate.xb.get(block, 0)
            self.gate.xb[block] = exits
            self.gate.ra -= lacking
            applied += lacking
        return applied

    def rank(self, ticket: int) -> int:
        return self.ranks([ticket])[ticket]

    def ranks(self, tickets: list[int]) -> dict[int, int]:
        return {t: t - sum(1 for e in self.exits if e < t) for t in tickets}

    def waiting_tickets(self, limit: int) -> list[int]:
        return [t for t in range(1, self.gate.seq + 1) if t not in self.exits][:limit]


class FakeStatistics:
    def __init__(self, gate: FakeGate) -> None:
        self.gate = gate
        self.totals: dict[str, int] = {}

    def count(self, deltas: dict[str, int]) -> None:
        for k, v in deltas.items():
            self.totals[k] = self.totals.get(k, 0) + v

    def stats(self) -> dict[str, int]:
        out = dict(self.totals)
        for k, v in self.gate.stats.items():
            out[k] = out.get(k, 0) + v
        return out

    def adjust_stat(self, key: str, delta: int) -> None:
        self.count({key: delta})


class FakeSlots:
    def __init__(self) -> None:
        self.used: dict[tuple[str, int], int] = {}
        self.came: dict[tuple[str, int], set[str]] = {}
        self.missed: dict[tuple[str, int], set[str]] = {}
        self.freed: set[tuple[str, int, str]] = set()

    def take_slot(self, day: str, site: int, capacity: int) -> bool:
        if self.used.get((day, site), 0) >= capacity:
            return False
        self.used[(day, site)] = self.used.get((day, site), 0) + 1
        return True

    def free_slot(self, day: str, site: int, registration_id: str | None = None) -> None:
        if self.used.get((day, site), 0) <= 0:
            return
        if registration_id is not None:
            if (day, site, registration_id) in self.freed:
                return
            self.freed.add((day, site, registration_id))
        self.used[(day, site)] -= 1

    def record_visit(self, day: str, site: int, outcome: str, member: str) -> None:
        if outcome not in ("came", "missed"):
            raise ValueError(outcome)
        (self.came if outcome == "came" else self.missed).setdefault((day, site), set()).add(member)

    def slots(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], SlotDay]:
        return {
            k: SlotDay(self.used.get(k, 0), frozenset(self.came.get(k, ())), frozenset(self.missed.get(k, ())))
            for k in keys
        }

    def raise_slot(self, day: str, site: int, places: int) -> None:
        self.used[(day, site)] = self.used.get((day, site), 0) + places


class FakeLedger:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.now: float | None = None  # a test moves the clock of the sightings; None: the real one

    def start_run(self, run_id: str, record: dict[str, Any]) -> None:
        if f"recon#{run_id}" in self.items:
            raise Conflict("run exists")
        self.items[f"recon#{run_id}"] = dict(record)

    def add_segment(self, run_id: str, segment: int, tally: dict[str, int]) -> int | None:
        run = self.items.get(f"recon#{run_id}")
        if run is None or segment in run.setdefault("done_segments", set()):
            return None
        run["done_segments"].add(segment)
        run["done_count"] = run.get("done_count", 0) + 1
        for k, v in tally.items():
            run[f"t_{k}"] = run.get(f"t_{k}", 0) + v
        return int(run["done_count"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.items.get(f"recon#{run_id}", {}))

    def claim_finish(self, run_id: str, segments: int) -> bool:
        run = self.items.get(f"recon#{run_id}", {})
        if run.get("status") != "running" or run.get("done_count", 0) < segments:
            return False
        run["status"] = "settling"
        return True

    def finish_run(self, run_id: str, findings: dict[str, Any]) -> None:
        self.items.setdefault(f"recon#{run_id}", {}).update(findings=findings, status="done")

    def confirm_leak(self, leak: int, taken: int, parked: int, after_seconds: int) -> bool:
        now = int(self.now if self.now is not None else time.time())
        seen = self.items.get("recon#leak")
        same = seen is not None and seen["taken"] == taken and seen["parked"] == parked
        if seen is not None and same and seen["leak"] >= leak and now - seen["at"] >= after_seconds:
            del self.items["recon#leak"]
            return True
        if not same:
            self.items["recon#leak"] = {"leak": leak, "taken": taken, "parked": parked, "at": now}
        return False

    def confirm_sighting(self, kind: str, fingerprint: str) -> bool:
        if self.items.get(f"recon#{kind}", {}).get("fingerprint") == fingerprint:
            del self.items[f"recon#{kind}"]
            return True
        self.items[f"recon#{kind}"] = {"fingerprint": fingerprint}
        return False

    def put_places_snapshot(self, day: str, snapshot: dict[str, Any]) -> None:
        self.items[f"places#{day}"] = {"places_left": dict(snapshot)}

    def places_snapshot(self, day: str) -> dict[str, Any] | None:
        snap = self.items.get(f"places#{day}", {}).get("places_left")
        return dict(snap) if snap else None


class FakeChannels:
    def __init__(self) -> None:
        self.open: dict[str, bool] = {}

    def channels(self) -> dict[str, bool]:
        return {name: self.open.get(name, True) for name in ("app", "counter", "org")}

    def set_channel(self, channel: str, is_open: bool) -> None:
        self.open[channel] = is_open


class FakeGlance:
    """The person's registration, with the gate and the channel states when asked (one request)."""

    def __init__(
        self, registrations: FakeRegistrations, gate: FakeGate, channels: FakeChannels, phones: FakePhones
    ) -> None:
        self.registrations = registrations
        self.gate = gate
        self.channels = channels
        self.phones = phones
        self.looks = 0

    def look(self, pointer: bytes, gate: bool, channels: bool, phone: str | None = None) -> Glance:
        self.looks += 1
        g = self.gate
        return Glance(
            self.registrations.current(pointer),
            {"parked": g.parked, "ra": g.ra, "seq": g.seq} if gate else None,
            self.channels.channels() if channels else None,
            self.phones.state(phone) if phone is not None else None,
        )


class FakeRemovalControl:
    def __init__(self) -> None:
        self.item: dict[str, Any] = {}

    def lease_removals(self, holder: str, now: float, seconds: float) -> dict[str, Any] | None:
        until = self.item.get("until_at")
        if until is not None and until >= now and self.item.get("holder") != holder:
            return None
        self.item |= {"holder": holder, "until_at": round(now + seconds, 3)}
        return dict(self.item)

    def removal_control(self) -> dict[str, Any]:
        return dict(self.item)

    def counted_to(self) -> datetime | None:
        value = self.item.get("counted_to")
        return datetime.fromisoformat(value) if value else None

    def save_registry_health(self, health: dict[str, tuple[float, int]]) -> None:
        for r, (down, fails) in health.items():
            self.item |= {f"down_{r}": round(down, 3), f"fails_{r}": fails}

    def end_removals(
        self,
        holder: str,
        health: dict[str, tuple[float, int]],
        release: bool = True,
        counted_to: datetime | None = None,
    ) -> None:
        if self.item.get("holder") != holder:
            return
        self.save_registry_health(health)
        if counted_to is not None:
            self.item["counted_to"] = counted_to.isoformat()
        if release:
            self.item.pop("holder", None)
            self.item.pop("until_at", None)


class FakeJobs:
    """A queue that keeps what was sent (``sent``: bodies; ``delays``: their delays)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.delays: list[int] = []
        self.fail_with: BaseException | None = None

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(body)
        self.delays.append(delay_seconds)

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            self.send(body)

    def take(self) -> list[dict[str, Any]]:
        """The messages sent so far, handed over (the queue is then empty)."""
        sent, self.sent, self.delays = self.sent, [], []
        return sent


class FakePhones:
    """Each phone's shares (person -> digest of the code holding it) and its people, with the
    store's conditions (``store.phones``: the same digests, so ``state`` reads as the store's item)."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}
        self.holders: dict[str, dict[str, str]] = {}
        self.persons: dict[str, set[str]] = {}

    def state(self, phone_hash: str) -> PhoneState:
        people = frozenset(self.persons.get(phone_hash, set()))
        return PhoneState(self.n.get(phone_hash, 0), people, dict(self.holders.get(phone_hash, {})))

    def take(self, phone_hash: str, registration_id: str, limit: int, lifetime: int) -> Share:
        person, mine = person_of(registration_id), code_digest(registration_id)
        holders = self.holders.setdefault(phone_hash, {})
        people = self.persons.setdefault(phone_hash, set())
        if person in holders:
            return Share(taken=True) if holders[person] == mine else Share(taken=False, held_by=holders[person])
        if self.n.get(phone_hash, 0) >= limit or (person not in people and len(people) >= lifetime):
            return Share(taken=False)
        new_person = person not in people
        holders[person] = mine
        people.add(person)
        self.n[phone_hash] = self.n.get(phone_hash, 0) + 1
        return Share(taken=True, new_person=new_person)

    def adopt(self, phone_hash: str, registration_id: str, held_by: str) -> bool:
        holders = self.holders.setdefault(phone_hash, {})
        person = person_of(registration_id)
        if holders.get(person) != held_by:
            return False
        holders[person] = code_digest(registration_id)
        return True

    def give_back(self, phone_hash: str, registration_id: str, forget_person: bool = False) -> bool:
        holders = self.holders.setdefault(phone_hash, {})
        person = person_of(registration_id)
        if holders.get(person) != code_digest(registration_id):
            return False
        del holders[person]
        self.n[phone_hash] -= 1
        if forget_person:
            self.persons[phone_hash].discard(person)
        return True

    def count(self, phone_hash: str) -> int:
        return self.n.get(phone_hash, 0)

    def people(self, phone_hash: str) -> int:
        return len(self.persons.get(phone_hash, set()))


class FakeStaff:
    def __init__(self) -> None:
        self.tokens: dict[str, StaffToken] = {}
        self.ids: dict[str, str] = {}
        # day -> sort key -> entry, sorted as the engine-backed store's sort keys are
        self.entries: dict[str, dict[str, AuditEntry]] = {}

    def put_token(self, token_hash: str, token: StaffToken) -> None:
        if token_hash in self.tokens:
            raise Conflict("token exists")
        self.tokens[token_hash] = token
        self.ids[token.token_id] = token_hash

    def token(self, token_hash: str) -> StaffToken | None:
        return self.tokens.get(token_hash)

    def revoke(self, token_id: str, now: datetime) -> bool:
        h = self.ids.get(token_id)
        if h is None:
            return False
        token = self.tokens[h]
        self.tokens[h] = token.model_copy(update={"revoked_at": token.revoked_at or now})
        return True

    def record(self, day: str, entry: AuditEntry) -> None:
        self.entries.setdefault(day, {})[f"{entry.at.astimezone(UTC).isoformat()}#{secrets.token_hex(4)}"] = entry

    def count_suppressed(self, day: str, entry: AuditEntry) -> None:
        sk = f"{entry.at.astimezone(UTC).isoformat()}#suppressed#{entry.token_id}"
        found = self.entries.setdefault(day, {}).get(sk)
        # As the store's update: this call's fields, the first one's status, a count, no target.
        self.entries[day][sk] = entry.model_copy(
            update={
                "at": entry.at.astimezone(UTC),
                "status": found.status if found else entry.status,
                "suppressed": (found.suppressed if found else 0) + 1,
                "target": None,
            }
        )

    def audit_page(self, day: str, after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        keys = [k for k in sorted(self.entries.get(day, {})) if after is None or k > after]
        page = keys[:limit]
        return [self.entries[day][k] for k in page], page[-1] if len(keys) > limit else None


class FakeBatches:
    def __init__(self) -> None:
        self.metas: dict[str, BatchMeta] = {}
        self.chunks: dict[str, list[tuple[int, list[Any]]]] = {}
        self.rows: dict[str, dict[int, RowResult]] = {}

    def create(self, meta: BatchMeta, chunks: list[list[Any]]) -> None:
        if meta.batch_id in self.metas:
            raise Conflict("batch exists")
        firsts = [sum(len(c) for c in chunks[:k]) + 1 for k in range(len(chunks))]
        self.chunks[meta.batch_id] = list(zip(firsts, chunks, strict=True))
        self.metas[meta.batch_id] = meta

    def meta(self, batch_id: str) -> BatchMeta | None:
        return self.metas.get(batch_id)

    def chunk(self, batch_id: str, k: int) -> tuple[int, list[Any]]:
        return self.chunks[batch_id][k]

    def record(self, batch_id: str, result: RowResult) -> None:
        self.rows.setdefault(batch_id, {}).setdefault(result.row, result)

    def results(self, batch_id: str) -> dict[int, RowResult]:
        return dict(self.rows.get(batch_id, {}))


class FakeVerifications:
    """Phone verifications with the store's limits (``store.attempts.VerificationStore``): one item
    per phone key with its send window (``win``, ``n``, ``sent_at``) and its verifications (``vers``)."""

    def __init__(self) -> None:
        self.phones: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _pk(phone_key: str) -> str:
        return phone_key[: 2 * PHONE_KEY_BYTES]

    def _found(self, verification_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        item = self.phones.get(self._pk(phone_key_of(verification_id)), {})
        return item, item.get("vers", {}).get(verification_id[2:])

    def start(self, phone_key: str, phone: str, verification_id: str, now: int) -> int:
        entry = {"exp": now + CODE_TTL_SECONDS, "wrong": 0}
        ref = verification_id[2:]
        pk = self._pk(phone_key)
        item = self.phones.get(pk)
        if item is None:
            self.phones[pk] = {"win": now, "n": 1, "sent_at": now, "phone": phone, "vers": {ref: entry}}
            return 0
        win, n, sent_at = int(item["win"]), int(item["n"]), int(item["sent_at"])
        fresh = win <= now - DAY_SECONDS
        if not fresh and (n >= CODES_PER_DAY or sent_at > now - RESEND_AFTER_SECONDS):
            day_left = win + DAY_SECONDS - now if n >= CODES_PER_DAY else 0
            return max(1, day_left, sent_at + RESEND_AFTER_SECONDS - now)
        if ref in item["vers"]:
            return RESEND_AFTER_SECONDS  # the store's rounds all refused: never over another verification
        dead = [k for k, e in item["vers"].items() if e["exp"] + VERIFICATION_KEEP_SECONDS < now]
        for k in dead:
            del item["vers"][k]
        item.update(win=now if fresh else win, n=1 if fresh else n + 1, sent_at=now, phone=phone)
        item["vers"][ref] = entry
        return 0

    def pending(self, verification_id: str) -> PendingVerification | None:
        item, found = self._found(verification_id)
        return PendingVerification(phone=item["phone"], code_expires=found["exp"]) if found else None

    def pending_many(self, verification_ids: list[str]) -> dict[str, PendingVerification | None]:
        return {i: self.pending(i) for i in verification_ids}

    def entry(self, verification_id: str) -> dict[str, Any]:
        return dict(self._found(verification_id)[1] or {})

    def settle(self, verification_id: str, right: bool, now: int) -> tuple[str, str | None]:
        item, found = self._found(verification_id)
        if found is None:
            return ("unknown", None)
        if found["wrong"] >= WRONG_CODES_ALLOWED or found["exp"] <= now:
            return ("spent", None)
        if right:
            found["confirmed_at"] = now
            return ("ok", item["phone"])
        found["wrong"] += 1
        return ("wrong", None)


class FakeAttempts:
    """The engine-backed store's fixed windows: ``{pk: [win, n, sent_at]}``."""

    def __init__(self) -> None:
        self.windows: dict[str, list[int]] = {}

    def _count(self, pk: str, now: int, limit: int, window: int, gap: int | None = None) -> tuple[bool, list[int]]:
        found = self.windows.get(pk)
        if found is None or found[0] <= now - window:
            self.windows[pk] = [now, 1, now]
            return True, self.windows[pk]
        if found[1] < limit and (gap is None or found[2] <= now - gap):
            found[1] += 1
            found[2] = now
            return True, found
        return False, found

    def take(self, key: str, now: int) -> int:
        taken, (win, _, _) = self._count(f"fail#{key}", now, LOCKOUT_FAILURES, LOCKOUT_WINDOW_SECONDS)
        return 0 if taken else max(1, win + LOCKOUT_WINDOW_SECONDS - now)

    def take_refused_audit(self, token_id: str, minute: int) -> bool:
        taken, _ = self._count(f"refused#{token_id}#{minute}", minute * 60, REFUSED_AUDIT_PER_MINUTE, 120)
        return taken

    def take_receipt(self, key: str, now: int) -> bool:
        taken, _ = self._count(f"receipt#{key}", now, RECEIPTS_PER_DAY, DAY_SECONDS, RECEIPT_RESEND_SECONDS)
        return taken


class FakeQueue:
    """The waiting room's table: tickets by phone key (with their index key and arrival second),
    buckets by key, the state as a QueueState; the same conditions as ``store/queue.py``."""

    def __init__(self) -> None:
        self.current = QueueState()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, QueueBucket] = {}
        self.fail_with: BaseException | None = None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def state(self) -> QueueState:
        self._maybe_fail()
        return self.current

    def create_state(self, state: QueueState) -> QueueState:
        self._maybe_fail()
        if not self.current.exists:
            self.current = state.with_(exists=True)
        return self.current

    def write_state(self, changes: dict[str, Any], expect: dict[str, Any], free_at: float | None = None) -> bool:
        self._maybe_fail()
        if not self.current.exists or any(getattr(self.current, k) != v for k, v in expect.items()):
            return False
        if free_at is not None and self.current.claim_until >= free_at:
            return False
        self.current = self.current.with_(**{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})
        return True

    def join(self, phone_key: str, ticket: str, index_key: str, second: int, at: float) -> QueueTicket | None:
        self._maybe_fail()
        found = self.tickets.get(phone_key)
        if found is not None:
            return _queue_ticket(found)
        self.tickets[phone_key] = {"ticket": ticket, "qk": index_key, "qs": second, "at": at}
        return None

    def ticket(self, phone_key: str) -> QueueTicket | None:
        self._maybe_fail()
        found = self.tickets.get(phone_key)
        return None if found is None else _queue_ticket(found)

    def move(self, phone_key: str, ticket: str, index_key: str, second: int, shard: int, was: int | None) -> bool:
        self._maybe_fail()
        found = self.tickets.get(phone_key)
        if found is None or found["ticket"] != ticket or found.get("moved_to") != was:
            return False
        found.update(qk=index_key, qs=second, moved_to=second, moved_shard=shard)
        return True

    def arrivals(self, index_keys: list[str]) -> dict[str, list[str]]:
        self._maybe_fail()
        found: dict[str, list[str]] = {}
        wanted = set(index_keys)
        for item in self.tickets.values():
            if item["qk"] in wanted:
                found.setdefault(item["qk"], []).append(item["ticket"])
        return found

    def count_arrivals(self, index_key: str, after: int, upto: int) -> int:
        self._maybe_fail()
        return sum(1 for i in self.tickets.values() if i["qk"] == index_key and after < i["qs"] <= upto)

    def bucket(self, key: str) -> QueueBucket | None:
        self._maybe_fail()
        return self.buckets.get(key)

    def put_bucket(self, key: str, bucket: QueueBucket) -> bool:
        self._maybe_fail()
        found = self.buckets.get(key)
        if found is not None and found.round >= bucket.round:
            return False
        self.buckets[key] = bucket
        return True


def _queue_ticket(item: dict[str, Any]) -> QueueTicket:
    moved = item.get("moved_to")
    return QueueTicket(item["ticket"], moved, item.get("moved_shard") if moved is not None else None)


@dataclass
class FakeStores:
    """Every store of ``chalicelib.store.protocols.Stores``, in memory."""

    registrations: FakeRegistrations
    quota: FakeQuota
    reserve: FakeReserve
    statistics: FakeStatistics
    slots: FakeSlots
    ledger: FakeLedger
    channels: FakeChannels
    removal_control: FakeRemovalControl
    promotions: FakeJobs
    batch_jobs: FakeJobs
    removal_jobs: FakeJobs
    reconcile_jobs: FakeJobs
    appointment_jobs: FakeJobs
    sms_jobs: FakeJobs
    staff: FakeStaff
    batches: FakeBatches
    verifications: FakeVerifications
    attempts: FakeAttempts
    phones: FakePhones
    glance: FakeGlance
    gate: FakeGate
    queue: FakeQueue = field(default_factory=FakeQueue)

    @classmethod
    def empty(cls, primary: int, reserve: int) -> FakeStores:
        gate = FakeGate()
        registrations, channels, phones = FakeRegistrations(), FakeChannels(), FakePhones()
        return cls(
            registrations=registrations,
            quota=FakeQuota(gate, primary, reserve),
            reserve=FakeReserve(gate),
            statistics=FakeStatistics(gate),
            slots=FakeSlots(),
            ledger=FakeLedger(),
            channels=channels,
            removal_control=FakeRemovalControl(),
            promotions=FakeJobs(),
            batch_jobs=FakeJobs(),
            removal_jobs=FakeJobs(),
            reconcile_jobs=FakeJobs(),
            appointment_jobs=FakeJobs(),
            sms_jobs=FakeJobs(),
            staff=FakeStaff(),
            batches=FakeBatches(),
            verifications=FakeVerifications(),
            attempts=FakeAttempts(),
            phones=phones,
            glance=FakeGlance(registrations, gate, channels, phones),
            gate=gate,
        )


class FakeRegistry:
    """Mor Phrom or Khon Kaen Phrom: who is booked there, whether it answers, and every call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.booked: set[str] = set()
        self.down = False
        self.removed: list[str] = []
        self.calls = 0

    def remove(self, national_id: str) -> str:
        self.calls += 1
        if self.down:
            raise RegistryUnavailable(self.name)
        self.removed.append(national_id)
        if national_id in self.booked:
            self.booked.discard(national_id)
            return "removed"
        return "not_found"

    def is_registered(self, national_id: str) -> bool:
        self.calls += 1
        if self.down:
            raise RegistryUnavailable(self.name)
        return national_id in self.booked


def _cancellation(reg: Registration, now: datetime) -> dict[str, Any]:
    """What a cancellation writes besides its status, ``cancel`` and ``cancel_no_show`` alike (the
    store's ``registrations.codec.cancellation``): when, the place held (pending release), and the
    steps left: its counters, and an app registration's phone share."""
    return {
        "cancelled_at": now,
        "held": "primary" if reg.status is Status.CONFIRMED else "reserve",
        "release_pending": True,
        "todo": ["counts", "phone"] if reg.channel is Channel.APP else ["counts"],
    }


def _copy(reg: Registration) -> Registration:
    return reg.model_copy(deep=True)


def _paged(keys: list[str], cursor: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
    """A page of ``keys`` (sorted) after the cursor's last key, as DynamoDB's ExclusiveStartKey
    goes on after the last key read even when earlier items have left the index since."""
    after = cursor["after"] if cursor else None
    rest = [k for k in keys if after is None or k > after]
    page = rest[:limit]
    return page, ({"after": page[-1]} if len(rest) > limit else None)
