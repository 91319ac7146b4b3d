"""Registrations: each person's current registration stored under the person, a superseded one
under its receipt code.

A person's registration lives at ``p#<pointer>`` (128 bits of the keyed hash of the national ID), so
one conditional put is the claim and the registration at once: it fails when the person is
registered, and returns the item found, which answers a repeat or an Idempotency-Key replay without
another read. The receipt code (``registration_id``) carries the pointer and 128 random bits, so it
resolves with one read and is checked in constant time. When a person registers again after a
cancellation, the cancelled registration is first copied under its code (so it still resolves),
then replaced. A counter reclaim gives the person's registration a new code in place; the codes it
had before resolve only for the service's own jobs (``find``: the ticket holder, a removal list, a
promotion target may still name one), never for a request.
Every decision is a conditional single-item write; none depends on a value read before it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import rules
from chalicelib.domain.doses import Visit, VisitStatus, next_booked
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import REGISTRIES, Channel, Registration, Status
from chalicelib.store.table import ConditionFailed, Item, Table

RELEASE_INDEX = "release-pending"
REMOVAL_INDEX = "removal-pending"
APPOINTMENT_PENDING_INDEX = "appointment-pending"
APPOINTMENT_DAY_INDEX = "appointment-day"
_OPEN_REMOVAL = ("pending", "failed")


class Taken(Exception):
    """The person has a registration that a new one may not replace: ``current``, and the
    Idempotency-Key fingerprint it was made with (None if it was made without one)."""

    def __init__(self, current: Registration, fingerprint: str | None) -> None:
        super().__init__("taken")
        self.current = current
        self.fingerprint = fingerprint


def home(pointer: bytes) -> str:
    """The key of a person's current registration."""
    return "p#" + base64.urlsafe_b64encode(pointer).decode("ascii").rstrip("=")


def current_of(item: Item) -> tuple[Registration, str | None] | None:
    """A person's item as ``RegistrationStore.current`` answers it."""
    return (_from_item(item), item.get("idem")) if item else None


def _key(code: str) -> str | None:
    pointer = rules.code_pointer(code)
    return home(pointer) if pointer is not None else None


def _digest(code: str) -> str:
    """What a registration keeps of a receipt code a reclaim replaced: enough to recognise it, not
    the code itself (a copy of the table does not hand out codes that once worked)."""
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()[:32]


def _reclaimed_from(item: Item, code: str) -> bool:
    return _digest(code) in (item.get("reclaimed") or [])


class RegistrationStore:
    def __init__(self, client: Any, registrations_table: str) -> None:
        self._t = Table(client, registrations_table, ("registration_id",))

    # -- the person's registration ------------------------------------------------------------------

    def create(self, reg: Registration, pointer: bytes, fingerprint: str | None) -> None:
        """Store ``reg`` as the person's current registration (the claim and the registration in one
        write). A cancelled registration whose place has been handed on is kept under its code and
        replaced.

        Raises Taken with the registration found, Conflict if it changed meanwhile, Overloaded.
        """
        item = _to_item(reg) | {"registration_id": home(pointer), "code": reg.registration_id, "idem": fingerprint}
        try:
            self._t.put(item)
            return
        except ConditionFailed as failed:
            old = failed.old
        if not old:
            raise Conflict("registration vanished")
        current = _from_item(old)
        if current.status is not Status.CANCELLED:
            raise Taken(current, old.get("idem"))
        # Kept as it is now, down to its version: if anything changes it meanwhile (its release, its
        # removals), the replacement below fails and the copy is written again from the new state.
        self._t.overwrite(old | {"registration_id": old["code"], "archived": True})
        unchanged = "ver = :ver" if "ver" in old else "attribute_not_exists(ver)"
        try:
            self._t.put(
                item,
                f"code = :old AND {unchanged}",
                {":old": old["code"]} | ({":ver": old["ver"]} if "ver" in old else {}),
            )
        except ConditionFailed as failed:
            if failed.old.get("code") == reg.registration_id:
                return  # our own first try landed (a retried put)
            raise Conflict("registration changed") from None

    def withdraw(self, reg: Registration, pointer: bytes) -> bool:
        """Undo a registration just created by ``create`` whose request was refused afterwards (the
        phone's limit): delete it if it is still this one, unchanged since it was written (every
        change counts a version: a fresh item has none). False when it is not: it stands. A
        registration it replaced stays kept under its own code. Raises Overloaded."""
        try:
            self._t.delete(
                home(pointer),
                condition="code = :code AND attribute_not_exists(ver)",
                values={":code": reg.registration_id},
            )
            return True
        except ConditionFailed:
            return False

    def current(self, pointer: bytes) -> tuple[Registration, str | None] | None:
        """The person's current registration and its Idempotency-Key fingerprint, or None."""
        return current_of(self._t.get(home(pointer)))

    @property
    def table(self) -> Table:
        return self._t

    def get(self, code: str) -> Registration | None:
        """The registration with this receipt code (current or superseded), or None."""
        return self._resolve(code, follow=False)

    def find(self, code: str) -> Registration | None:
        """``get`` for the service's own jobs: also the registration a counter reclaim gave a new
        code since (returned with its new code), as a ticket, a removal list or a promotion target
        may still name the old one. Never for a code a request brings: that one is dead."""
        return self._resolve(code, follow=True)

    def _resolve(self, code: str, follow: bool) -> Registration | None:
        key = _key(code)
        if key is None:
            return None
        item = self._t.get(key)
        if item and hmac.compare_digest(str(item.get("code", "")).encode(), code.encode()):
            return _from_item(item)
        if item and follow and _reclaimed_from(item, code):
            return _from_item(item)
        archived = self._t.get(code)
        return _from_item(archived) if archived else None

    def reclaim(
        self, reg: Registration, new_code: str, details: dict[str, str], label: str, now: datetime
    ) -> Registration:
        """Give the person's active registration ``reg`` the details of the person at the counter
        (``details``: names, birth date, phone, basis, detail) and a new receipt code, in one
        compare-and-set on its version as read: status, place, ticket and appointments stay. The
        old code stops resolving (``find`` still follows it, for the jobs that hold it); the
        Idempotency-Key of the request that made it is dropped, so its replay is no longer answered
        with this registration. The channel becomes ``counter``.

        Raises Conflict when it changed meanwhile (read it again), Overloaded.
        """
        fields = ("first_name", "last_name", "birth_date", "phone", "basis", "detail")
        sets = [f"{name} = :{name}" for name in fields]
        values: dict[str, Any] = {f":{name}": details[name] for name in fields}
        unchanged = "ver = :ver" if reg.version else "attribute_not_exists(ver)"
        if reg.version:
            values[":ver"] = reg.version
        values |= {
            ":new": new_code,
            ":channel": "counter",
            ":label": label,
            ":now": now.isoformat(),
            ":old": [_digest(reg.registration_id)],
            ":none": [],
            ":confirmed": Status.CONFIRMED.value,
            ":reserve": Status.RESERVE.value,
        }
        update = (
            "SET " + ", ".join(sets) + ", code = :new, channel = :channel, label = :label, reclaimed_at = :now,"
            " reclaimed = list_append(if_not_exists(reclaimed, :none), :old) REMOVE idem"
        )
        return self._update(reg.registration_id, update, f"(#s = :confirmed OR #s = :reserve) AND {unchanged}", values)

    # -- state changes (each conditional on the code, so a superseded one is never touched) ---------

    def cancel(self, reg: Registration, now: datetime) -> Registration:
        """Cancel ``reg`` if its status is still the one read; the place it held is then pending
        release, and the steps that follow (counters, appointment slot) are listed in ``todo`` so
        that a retried cancel finishes what an interrupted one left undone.

        Raises Conflict when the status changed meanwhile (a promotion, another cancel).
        """
        held = "primary" if reg.status is Status.CONFIRMED else "reserve"
        todo = _todo(reg)
        return self._update(
            reg.registration_id,
            "SET #s = :cancelled, cancelled_at = :now, held = :held, release_pending = :now, release_shard = :one,"
            " todo = :todo REMOVE appt_pending, appt_shard",
            "#s = :expected",
            {
                ":cancelled": Status.CANCELLED.value,
                ":now": now.isoformat(),
                ":held": held,
                ":expected": reg.status.value,
                ":one": "1",
                ":todo": todo,
            },
        )

    def take_step(self, registration_id: str, step: str) -> bool:
        """Claim one follow-up step of a cancellation (once): False if it was taken already."""
        try:
            self._set(registration_id, "DELETE todo :step", "contains(todo, :s)", {":step": {step}, ":s": step})
            return True
        except Conflict:
            return False

    def promote(self, registration_id: str, vacancy_id: str, now: datetime) -> Registration:
        """Reserve -> confirmed, recording which vacancy's place it took. Raises Conflict otherwise.

        The same write marks the removals from the other registries pending (the outbox the removal
        sweep reads), and the registration as counted (the promotion's counters are added by the caller).
        """
        removals = ", ".join(f"rm_{r} = :pending" for r in REGISTRIES)
        return self._update(
            registration_id,
            f"SET #s = :confirmed, promoted_by = :by, promoted_at = :now, {removals}, counted = :t,"
            " removal_due = :now, removal_shard = :one, appt_pending = :now, appt_shard = :one",
            "#s = :reserve",
            {
                ":confirmed": Status.CONFIRMED.value,
                ":reserve": Status.RESERVE.value,
                ":by": vacancy_id,
                ":now": now.isoformat(),
                ":pending": "pending",
                ":one": "1",
                ":t": True,
            },
        )

    def record_removals(
        self, reg: Registration, states: dict[str, str], due: datetime | None, count: bool, tries: dict[str, int]
    ) -> bool:
        """One write for what the registries answered: each registry's new state and tries, the next
        time it is due (None: done, it leaves the removal index), and ``counted`` when the statistics
        now include it. Conditional on the states read, so a second sweep changes nothing.
        Returns False if the registration changed meanwhile.
        """
        sets = [f"rm_{r} = :s_{r}" for r in states] + [f"tries_{r} = :n_{r}" for r in tries]
        values: dict[str, Any] = {f":s_{r}": s for r, s in states.items()} | {f":n_{r}": n for r, n in tries.items()}
        conds = [f"rm_{r} = :w_{r}" for r in states]
        values |= {f":w_{r}": reg.removals.get(r) for r in states}
        if count:
            sets.append("counted = :t")
            values[":t"] = True
            conds.append("attribute_not_exists(counted)")
        removes = []
        if due is None:
            removes.append("removal_due, removal_shard")
        else:
            sets.append("removal_due = :due")
            values[":due"] = due.isoformat()
        update = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._set(reg.registration_id, update.strip(), " AND ".join(conds) or None, values, archived=reg.archived)
            return True
        except Conflict:
            return False

    def set_visits(self, reg: Registration, visits: list[Visit], waiting: bool = False) -> Registration:
        """Replace a confirmed registration's appointments, if nobody changed them since ``reg`` was
        read (compare-and-set on ``appt_rev``). The next booked one becomes ``appt_date`` and
        ``appt_site`` (the day index); ``waiting`` puts it back in the allocation index.
        Raises Conflict (changed meanwhile, or no longer confirmed).
        """
        return self._write_visits(reg, visits, Status.CONFIRMED, waiting=waiting)

    def drop_visits(self, reg: Registration, visits: list[Visit]) -> Registration:
        """A cancelled registration's appointments without the booked ones (their places are given
        back by the caller, once: this compare-and-set succeeds once). Raises Conflict."""
        return self._write_visits(reg, visits, Status.CANCELLED)

    def cancel_no_show(self, reg: Registration, visits: list[Visit], now: datetime) -> Registration:
        """Cancel a confirmed registration whose first dose was missed twice, with its appointments
        as given, in one compare-and-set; its place is then pending release like any cancellation,
        and its counters are listed in ``todo`` as ``cancel`` lists them. Raises Conflict."""
        todo = _todo(reg)
        extra = {
            "cancelled_at": now.isoformat(),
            "held": "primary",
            "release_pending": now.isoformat(),
            "release_shard": "1",
            "cancel_reason": "no_show",
            "todo": todo,
        }
        return self._write_visits(reg, visits, Status.CONFIRMED, then=Status.CANCELLED, extra=extra)

    def _write_visits(
        self,
        reg: Registration,
        visits: list[Visit],
        status: Status,
        waiting: bool = False,
        then: Status | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Registration:
        values: dict[str, Any] = {
            ":v": [_visit_item(v) for v in visits],
            ":rev": reg.appt_rev + 1,
            ":st": status.value,
        }
        sets = ["visits = :v", "appt_rev = :rev"]
        removes: list[str] = []
        upcoming = next_booked(visits) if (then or status) is Status.CONFIRMED else None
        if upcoming is not None:
            sets += ["appt_date = :day", "appt_site = :site"]
            values |= {":day": upcoming.date.isoformat(), ":site": upcoming.site}
        else:
            removes += ["appt_date", "appt_site"]
        if waiting:
            sets += ["appt_pending = :now", "appt_shard = :one"]
            values |= {":now": datetime.now(UTC).isoformat(), ":one": "1"}
        else:
            removes += ["appt_pending", "appt_shard"]
        if then is not None:
            sets.append("#s = :then")
            values[":then"] = then.value
        for n, (name, val) in enumerate((extra or {}).items()):
            sets.append(f"{name} = :x{n}")
            values[f":x{n}"] = val
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s = :st AND " + ("appt_rev = :old" if reg.appt_rev else "attribute_not_exists(appt_rev)")
        if reg.appt_rev:
            values[":old"] = reg.appt_rev
        return self._update(reg.registration_id, update, condition, values, archived=reg.archived)

    def mark_sms(self, registration_id: str, key: str) -> bool:
        """Record that the SMS for this appointment was sent; False if it had been already."""
        try:
            self._set(
                registration_id,
                "SET sms_sent_for = :key",
                "attribute_not_exists(sms_sent_for) OR sms_sent_for <> :key",
                {":key": key},
            )
            return True
        except Conflict:
            return False

    def reopen_removal(self, reg: Registration, registry: str, was: str) -> bool:
        """A removed person is booked in that registry again: back to pending (and into the index)."""
        try:
            self._set(
                reg.registration_id,
                "SET #r = :pending, removal_due = :now, removal_shard = :one",
                "#r = :was",
                {":pending": "pending", ":was": was, ":now": datetime.now(UTC).isoformat(), ":one": "1"},
                {"#r": f"rm_{registry}"},
                archived=reg.archived,
            )
            return True
        except Conflict:
            return False

    def make_due(self, reg: Registration, now: datetime) -> bool:
        """Reconciliation's re-drive: a removal that failed (or waits out a long backoff) is due now."""
        try:
            self._set(
                reg.registration_id,
                "SET removal_due = :now",
                "attribute_exists(removal_shard)",
                {":now": now.isoformat()},
                {},
                archived=reg.archived,
            )
            return True
        except Conflict:
            return False

    def set_release_target(self, registration_id: str, target: str | None, expected: str | None) -> None:
        """Compare-and-set the reserve registration a pending vacancy is being given to."""
        names = {"#t": "release_target"}
        cond = "attribute_exists(release_pending) AND "
        cond += "attribute_not_exists(#t)" if expected is None else "#t = :expected"
        values: dict[str, Any] = {} if expected is None else {":expected": expected}
        if target is None:
            update = "REMOVE #t"
        else:
            update = "SET #t = :target"
            values[":target"] = target
        self._set(registration_id, update, cond, values, names)

    def finish_release(self, registration_id: str) -> None:
        """The held place has been handed on: drop the pending marker (idempotent)."""
        with contextlib.suppress(Conflict):  # superseded already: nothing is pending there
            self._set(registration_id, "REMOVE release_pending, release_shard, release_target", None, {}, {})

    def hand_to_newcomers(self, registration_id: str, now: datetime) -> bool:
        """The place of a pending release goes back to newcomers: the release is finished (and the
        hand-over noted) before the place is parked, so only the run that wins this write parks it.
        False if the release is not pending any more, or somebody on the reserve was chosen for it."""
        try:
            self._set(
                registration_id,
                "SET to_newcomers = :now REMOVE release_pending, release_shard",
                "attribute_exists(release_pending) AND attribute_not_exists(release_target)",
                {":now": now.isoformat()},
            )
            return True
        except Conflict:
            return False

    def reopen_release(self, registration_id: str, now: datetime) -> None:
        """A place handed to newcomers that could not be parked (somebody joined the reserve since) is
        pending release again. Raises Conflict if it was not handed to newcomers."""
        self._set(
            registration_id,
            "SET release_pending = :now, release_shard = :one REMOVE to_newcomers",
            "attribute_exists(to_newcomers)",
            {":now": now.isoformat(), ":one": "1"},
        )

    # -- sparse indexes and scans (background and admin work, never a request path) -----------------

    def due_removals(self, now: datetime, limit: int) -> list[Registration]:
        """Up to ``limit`` registrations whose removal from the registries is due, oldest first: one
        read of the sparse index, then their items (a BatchGetItem per 100)."""
        page = self._t.query_page(
            "removal_shard = :one AND removal_due <= :now",
            {":one": "1", ":now": now.isoformat()},
            index=REMOVAL_INDEX,
            limit=limit,
        )
        return self._items_of(page.items)

    def by_codes(self, codes: list[str]) -> list[Registration]:
        """The current registrations with these receipt codes (one BatchGetItem per 100; a code
        whose person registered again since is left out: the index finds it under its code)."""
        wanted: dict[str, list[str]] = {}
        for c in codes:
            if (k := _key(c)) is not None:
                wanted.setdefault(k, []).append(c)
        found = self._t.batch_get([(k,) for k in wanted])
        # A code a counter reclaim replaced since still names the person's registration (its new code).
        return [
            _from_item(i)
            for i in found
            if any(c == i.get("code") or _reclaimed_from(i, c) for c in wanted.get(str(i["registration_id"]), []))
        ]

    def get_many(self, codes: list[str]) -> list[Registration]:
        """Registrations by receipt code, current or superseded (a BatchGetItem per 100 of the
        persons' items, then one for the codes found superseded); unknown codes are left out."""
        unique = list(dict.fromkeys(codes))
        wanted = {c: k for c in unique if (k := _key(c)) is not None}
        by_key: dict[str, list[str]] = {}
        for c, k in wanted.items():
            by_key.setdefault(k, []).append(c)
        found: dict[str, Registration] = {}
        for item in self._t.batch_get([(k,) for k in by_key]):
            code = str(item.get("code", ""))
            # Codes a counter reclaim replaced name the person's registration too (a check-in record
            # made before the reclaim): under its new code, once.
            for named in by_key.get(str(item["registration_id"]), []):
                if named == code or _reclaimed_from(item, named):
                    found[named] = _from_item(item)
        superseded = [c for c in wanted if c not in found]
        for item in self._t.batch_get([(c,) for c in superseded]):
            found[str(item["registration_id"])] = _from_item(item)
        regs = {found[c].registration_id: found[c] for c in unique if c in found}
        return list(regs.values())

    def appointments_page(
        self, day: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Receipt codes of registrations whose next appointment is on ``day``, a page at a time."""
        page = self._t.query_page(
            "appt_date = :day", {":day": day}, index=APPOINTMENT_DAY_INDEX, cursor=cursor, limit=limit
        )
        return [str(i.get("code", i["registration_id"])) for i in page.items], page.cursor

    def open_removals(self) -> list[Registration]:
        """Every registration with a removal still open (pending or failed), whenever it is due."""
        return self._items_of(list(self._t.query("removal_shard = :one", {":one": "1"}, index=REMOVAL_INDEX)))

    def waiting_for_appointment(
        self, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        """Confirmed registrations without an appointment, in registration order, a page at a time."""
        page = self._t.query_page(
            "appt_shard = :one", {":one": "1"}, index=APPOINTMENT_PENDING_INDEX, cursor=cursor, limit=limit
        )
        return self._items_of(page.items), page.cursor

    def appointments_on(self, day: str) -> list[Registration]:
        """Everyone with an appointment on ``day``, in registration order."""
        return [_from_item(i) for i in self._t.query("appt_date = :day", {":day": day}, index=APPOINTMENT_DAY_INDEX)]

    def pending_releases(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Registrations cancelled before ``older_than`` whose place is still not handed on."""
        page = self._t.query_page(
            "release_shard = :one AND release_pending < :before",
            {":one": "1", ":before": older_than.isoformat()},
            index=RELEASE_INDEX,
            limit=limit,
        )
        return [r.registration_id for r in self._items_of(page.items)]

    def page(self, status: Status | None, cursor: str | None, limit: int) -> tuple[list[Registration], str | None]:
        """Up to ``limit`` registrations (of ``status``), scanning on from ``cursor`` (admin export only).

        Returns the page and the cursor of the next one (None at the end).
        """
        # The cursor is the last key read, URL-safe: a person's key ``p#…`` travels as ``p_…``.
        start = {"registration_id": {"S": "p#" + cursor[2:] if cursor.startswith("p_") else cursor}} if cursor else None
        found: list[Registration] = []
        while len(found) < limit:
            page = self._t.scan_page(start, min(1000, max(100, limit - len(found))))
            found.extend(r for r in map(_from_item, page.items) if status is None or r.status is status)
            if not page.cursor:
                return found, None
            start = page.cursor
        last = str(start["registration_id"]["S"]) if start else None
        return found, ("p_" + last[2:] if last and last.startswith("p#") else last)

    def scan_segment(
        self, segment: int, total: int, cursor: dict[str, Any] | None, page: int = 100
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        """One page of one segment of a parallel scan (reconciliation only, never a request path)."""
        found = self._t.scan_page(cursor, page, (segment, total))
        return [_from_item(i) for i in found.items], found.cursor

    def _items_of(self, keys: list[Item]) -> list[Registration]:
        """The registrations an index page names, in its order."""
        wanted = [str(k["registration_id"]) for k in keys]
        got = {str(i["registration_id"]): i for i in self._t.batch_get([(k,) for k in wanted])}
        return [_from_item(got[k]) for k in wanted if k in got]

    def _update(
        self,
        registration_id: str,
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        archived: bool = False,
    ) -> Registration:
        """A conditional update of the registration with this code (and of no other: the condition
        includes the code, so the person's newer registration is never touched). Raises Conflict."""
        return _from_item(self._change(registration_id, update, condition, values, names, archived, "ALL_NEW"))

    def _set(
        self,
        registration_id: str,
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        archived: bool = False,
    ) -> None:
        """``_update`` without reading the registration back (the sweep's write: half its cost on the engine)."""
        self._change(registration_id, update, condition, values, names, archived, "NONE")

    def _change(
        self,
        registration_id: str,
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None,
        archived: bool,
        returns: str,
    ) -> Item:
        key = registration_id if archived else _key(registration_id)
        if key is None:
            raise Conflict("not a receipt code")
        cond = "code = :code" + (f" AND ({condition})" if condition else "")
        names = {k: v for k, v in ({"#s": "status"} | (names or {})).items() if k in update or k in cond}
        # Every change counts a version: a cancelled registration is replaced only as it was copied.
        update += " ADD ver :vone"
        values = {**values, ":code": registration_id, ":vone": 1}
        try:
            return self._t.update((key,), update, cond, values, names or None, returns=returns)
        except ConditionFailed as failed:
            if archived or failed.old.get("code") == registration_id:
                raise Conflict("registration changed") from None
        # The person registered again since (or that registration was withdrawn, the person's item
        # gone with it): this one lives under its code now.
        try:
            return self._t.update((registration_id,), update, cond, values, names or None, returns=returns)
        except ConditionFailed:
            raise Conflict("registration changed") from None


_ITEM_FIELDS = (
    "registration_id",
    "status",
    "channel",
    "national_id",
    "first_name",
    "last_name",
    "phone",
    "basis",
    "detail",
    "ticket",
    "label",
    "promoted_by",
    "release_target",
    "held",
    "sms_sent_for",
    "rank_at_start",
    "cancel_reason",
)


def _todo(reg: Registration) -> set[str]:
    """What a cancellation of ``reg`` leaves to do, each step once: its counters, and an app
    registration's share of its phone (``PHONE_REGISTRATION_LIMIT``)."""
    return {"counts", "phone"} if reg.channel is Channel.APP else {"counts"}


def _to_item(reg: Registration) -> dict[str, Any]:
    data = reg.model_dump(mode="json", include=set(_ITEM_FIELDS))
    data["registered_at"] = reg.registered_at.isoformat()
    data["birth_date"] = reg.birth_date.isoformat()
    for registry, state in reg.removals.items():
        data[f"rm_{registry}"] = state
    if any(s in _OPEN_REMOVAL for s in reg.removals.values()):
        data["removal_due"] = data["registered_at"]
        data["removal_shard"] = "1"
    if reg.status is Status.CONFIRMED and reg.appointment is None:
        data["appt_pending"] = data["registered_at"]
        data["appt_shard"] = "1"
    if reg.appointment is not None:
        data["appt_date"] = reg.appointment.date.isoformat()
        data["appt_site"] = reg.appointment.site
    if reg.counted:
        data["counted"] = True
    if reg.visits:
        data["visits"] = [_visit_item(v) for v in reg.visits]
        data["appt_rev"] = reg.appt_rev
    return data


def _visit_item(visit: Visit) -> dict[str, Any]:
    return visit.model_dump(mode="json", exclude_none=True)


def _from_item(item: dict[str, Any]) -> Registration:
    item = dict(item)
    item["registration_id"] = item.pop("code", item.get("registration_id"))
    item["release_pending"] = "release_pending" in item
    item["version"] = item.pop("ver", 0)
    item["removals"] = {r: item.pop(f"rm_{r}") for r in REGISTRIES if f"rm_{r}" in item}
    item["tries"] = {r: item.pop(f"tries_{r}") for r in REGISTRIES if f"tries_{r}" in item}
    if "appt_date" in item:
        item["appointment"] = {"date": item.pop("appt_date"), "site": item.pop("appt_site")}
        if "visits" not in item:  # written before doses were kept: its one appointment is dose 1
            item["visits"] = [{**item["appointment"], "dose": 1, "status": VisitStatus.BOOKED.value}]
    if isinstance(item.get("registered_at"), str):
        item["registered_at"] = datetime.fromisoformat(item["registered_at"]).astimezone(UTC)
    if isinstance(item.get("todo"), set):
        item["todo"] = sorted(item["todo"])
    return Registration.model_validate(item)
