"""Registrations and the one-active-registration-per-person claim.

People are keyed by an HMAC of their national ID, so the people table never holds the number.
Every decision is a conditional single-item write; none depends on a value read before it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.doses import Visit, VisitStatus, next_booked
from chalicelib.domain.errors import AlreadyRegistered, Conflict, RequestInProgress
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.store.codec import decode, encode, is_condition_failure, translated_errors, value

RELEASE_INDEX = "release-pending"
REMOVAL_INDEX = "removal-pending"
APPOINTMENT_PENDING_INDEX = "appointment-pending"
APPOINTMENT_DAY_INDEX = "appointment-day"
_OPEN_REMOVAL = ("pending", "failed")


@dataclass(frozen=True)
class PersonRecord:
    active: str | None
    latest: str | None
    claimed_at: float | None


def _epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


class RegistrationStore:
    def __init__(self, client: Any, registrations_table: str, people_table: str) -> None:
        self._db = client
        self._regs = registrations_table
        self._people = people_table

    # -- people ---------------------------------------------------------------------------------

    def claim_person(self, person_key: str, registration_id: str, now: datetime, stale_after: float) -> None:
        """Make ``registration_id`` the person's active registration.

        Raises AlreadyRegistered when the person has an active registration, or a claim by a
        request that may still be running. A claim older than ``stale_after`` seconds whose
        registration was never written (the request died) is taken over with a compare-and-set.
        """
        claim = "SET active = :rid, claimed_at = :now"
        values = {":rid": registration_id, ":now": _epoch(now)}
        old = self._update_person(person_key, claim, "attribute_not_exists(active)", values)
        if old is None:
            return
        holder = old.get("active")
        if holder is None:
            raise Conflict("claim changed while reading")
        existing = self.get(holder)
        if existing is not None and existing.status is not Status.CANCELLED:
            raise AlreadyRegistered()
        if existing is None and now.timestamp() - float(old.get("claimed_at", 0)) < stale_after:
            raise RequestInProgress(retry_after=2)  # the first attempt may still be writing it
        # The holder was cancelled (its claim not yet dropped) or its request died: take over.
        if self._update_person(person_key, claim, "active = :old", {**values, ":old": holder}) is not None:
            raise AlreadyRegistered()

    def release_claim(self, person_key: str, registration_id: str) -> None:
        """Drop a claim whose registration was refused (full); a no-op if it is no longer ours."""
        self._update_person(person_key, "REMOVE active, claimed_at", "active = :rid", {":rid": registration_id})

    def end_claim(self, person_key: str, registration_id: str) -> None:
        """After a cancellation: the person may register again; lookups find this one as latest."""
        self._update_person(
            person_key, "SET latest = :rid REMOVE active, claimed_at", "active = :rid", {":rid": registration_id}
        )

    def _update_person(
        self, person_key: str, update: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Conditional update of a person item: None if applied, else the item as it was."""
        with translated_errors():
            try:
                self._db.update_item(
                    TableName=self._people,
                    Key={"person": value(person_key)},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues={k: value(v) for k, v in values.items()},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return None
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                return decode(exc.response.get("Item") or {})

    def person(self, person_key: str) -> PersonRecord | None:
        item = self._person_item(person_key)
        if not item:
            return None
        return PersonRecord(item.get("active"), item.get("latest"), item.get("claimed_at"))

    def _person_item(self, person_key: str) -> dict[str, Any]:
        with translated_errors():
            resp = self._db.get_item(TableName=self._people, Key={"person": value(person_key)}, ConsistentRead=True)
        return decode(resp.get("Item") or {})

    # -- registrations --------------------------------------------------------------------------

    def put(self, reg: Registration) -> None:
        """Store a new registration. A retried put whose first try landed counts as done."""
        with translated_errors():
            try:
                self._db.put_item(
                    TableName=self._regs,
                    Item=encode(_to_item(reg)),
                    ConditionExpression="attribute_not_exists(registration_id)",
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise

    def get(self, registration_id: str) -> Registration | None:
        with translated_errors():
            resp = self._db.get_item(
                TableName=self._regs, Key={"registration_id": value(registration_id)}, ConsistentRead=True
            )
        item = resp.get("Item")
        return _from_item(decode(item)) if item else None

    def cancel(self, reg: Registration, now: datetime) -> Registration:
        """Cancel ``reg`` if its status is still the one read; the place it held is then pending release.

        Raises Conflict when the status changed meanwhile (a promotion, another cancel).
        """
        held = "primary" if reg.status is Status.CONFIRMED else "reserve"
        return self._update(
            reg.registration_id,
            "SET #s = :cancelled, cancelled_at = :now, held = :held, release_pending = :now, release_shard = :one"
            " REMOVE appt_pending, appt_shard",
            "#s = :expected",
            {
                ":cancelled": Status.CANCELLED.value,
                ":now": now.isoformat(),
                ":held": held,
                ":expected": reg.status.value,
                ":one": "1",
            },
        )

    def promote(self, registration_id: str, vacancy_id: str, now: datetime) -> Registration:
        """Reserve -> confirmed, recording which vacancy's place it took. Raises Conflict otherwise.

        The same write marks the removals from the other registries pending (the outbox: a sweep
        finds them even if the process dies before their jobs are queued).
        """
        removals = ", ".join(f"rm_{r} = :pending" for r in REGISTRIES)
        return self._update(
            registration_id,
            f"SET #s = :confirmed, promoted_by = :by, promoted_at = :now, {removals},"
            " removal_due = :now, removal_shard = :one, appt_pending = :now, appt_shard = :one",
            "#s = :reserve",
            {
                ":confirmed": Status.CONFIRMED.value,
                ":reserve": Status.RESERVE.value,
                ":by": vacancy_id,
                ":now": now.isoformat(),
                ":pending": "pending",
                ":one": "1",
            },
        )

    def set_removal(self, registration_id: str, registry: str, state: str, expected: tuple[str, ...]) -> bool:
        """Move one registry's removal state on, if it is still one of ``expected``.

        Returns False if another delivery got there first. When no registry is left pending or
        failed, the registration leaves the sparse removal index.
        """
        if registry not in REGISTRIES:
            raise ValueError(registry)
        names = {"#r": f"rm_{registry}"}
        values = {":state": state, **{f":e{i}": e for i, e in enumerate(expected)}}
        allowed = ", ".join(f":e{i}" for i in range(len(expected)))
        try:
            reg = self._update(registration_id, "SET #r = :state", f"#r IN ({allowed})", values, names)
        except Conflict:
            return False
        if not any(s in _OPEN_REMOVAL for s in reg.removals.values()):
            self._update(
                registration_id, "REMOVE removal_due, removal_shard", "attribute_exists(registration_id)", {}, {}
            )
        return True

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
        as given, in one compare-and-set; its place is then pending release like any cancellation.
        Raises Conflict."""
        extra = {
            "cancelled_at": now.isoformat(),
            "held": "primary",
            "release_pending": now.isoformat(),
            "release_shard": "1",
            "cancel_reason": "no_show",
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
        return self._update(reg.registration_id, update, condition, values)

    def get_many(self, registration_ids: list[str]) -> list[Registration]:
        """Registrations by ID (100 a BatchGetItem, strongly consistent); unknown IDs are left out."""
        found: list[Registration] = []
        unique = list(dict.fromkeys(registration_ids))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {
                self._regs: {
                    "Keys": [{"registration_id": value(r)} for r in unique[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                with translated_errors():
                    resp = self._db.batch_get_item(RequestItems=request)
                found.extend(_from_item(decode(i)) for i in resp.get("Responses", {}).get(self._regs, []))
                request = resp.get("UnprocessedKeys") or {}
        return found

    def appointments_page(
        self, day: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        """IDs of registrations whose next appointment is on ``day``, a page at a time."""
        return self._id_page(APPOINTMENT_DAY_INDEX, "appt_date = :day", {":day": value(day)}, cursor, limit)

    def waiting_for_appointment(
        self, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Confirmed registrations without an appointment, in registration order, a page at a time."""
        return self._id_page(APPOINTMENT_PENDING_INDEX, "appt_shard = :one", {":one": value("1")}, cursor, limit)

    def _id_page(
        self, index: str, condition: str, values: dict[str, Any], cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._regs,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        with translated_errors():
            resp = self._db.query(**kwargs)
        return [decode(i)["registration_id"] for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def appointments_on(self, day: str) -> list[Registration]:
        """Everyone with an appointment on ``day``, in registration order."""
        items = self._query_all(APPOINTMENT_DAY_INDEX, "appt_date = :day", {":day": value(day)})
        return [_from_item(i) for i in items]

    def mark_sms(self, registration_id: str, key: str) -> bool:
        """Record that the SMS for this appointment was sent; False if it had been already."""
        try:
            self._update(
                registration_id,
                "SET sms_sent_for = :key",
                "attribute_not_exists(sms_sent_for) OR sms_sent_for <> :key",
                {":key": key},
                {},
            )
            return True
        except Conflict:
            return False

    def reopen_removal(self, registration_id: str, registry: str, was: str) -> bool:
        """A removed person is booked in that registry again: back to pending (and into the index)."""
        try:
            self._update(
                registration_id,
                "SET #r = :pending, removal_due = :now, removal_shard = :one",
                "#r = :was",
                {":pending": "pending", ":was": was, ":now": datetime.now(UTC).isoformat(), ":one": "1"},
                {"#r": f"rm_{registry}"},
            )
            return True
        except Conflict:
            return False

    def open_removals(self, older_than: datetime) -> list[str]:
        """Confirmed registrations with a removal still pending or failed, due before ``older_than``."""
        items = self._query_all(
            REMOVAL_INDEX,
            "removal_shard = :one AND removal_due < :before",
            {":one": value("1"), ":before": value(older_than.isoformat())},
        )
        return [i["registration_id"] for i in items]

    def _query_all(self, index: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item an index query finds, page after page (decoded)."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._regs,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        while True:
            with translated_errors():
                resp = self._db.query(**kwargs)
            found.extend(decode(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

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
        self._update(registration_id, update, cond, values, names)

    def finish_release(self, registration_id: str) -> None:
        """The held place has been handed on: drop the pending marker (idempotent)."""
        with contextlib.suppress(Conflict):
            self._update(
                registration_id,
                "REMOVE release_pending, release_shard, release_target",
                "attribute_exists(registration_id)",
                {},
                {},
            )

    def page(self, status: Status | None, cursor: str | None, limit: int) -> tuple[list[Registration], str | None]:
        """Up to ``limit`` registrations (of ``status``), scanning on from ``cursor`` (admin export only).

        Returns the page and the cursor of the next one (None at the end).
        """
        kwargs: dict[str, Any] = {"TableName": self._regs}
        if status is not None:
            kwargs["FilterExpression"] = "#s = :status"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"] = {":status": value(status.value)}
        if cursor:
            kwargs["ExclusiveStartKey"] = {"registration_id": value(cursor)}
        found: list[Registration] = []
        while len(found) < limit:
            kwargs["Limit"] = min(1000, max(100, limit - len(found)))
            with translated_errors():
                resp = self._db.scan(**kwargs)
            found.extend(_from_item(decode(i)) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last:
                return found, None
            kwargs["ExclusiveStartKey"] = last
        return found, decode(kwargs["ExclusiveStartKey"])["registration_id"]

    def scan_segment(
        self, segment: int, total: int, cursor: dict[str, Any] | None, page: int = 100
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        """One page of one segment of a parallel scan (reconciliation only, never a request path)."""
        kwargs: dict[str, Any] = {"TableName": self._regs, "Segment": segment, "TotalSegments": total, "Limit": page}
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        with translated_errors():
            resp = self._db.scan(**kwargs)
        return [_from_item(decode(i)) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    def pending_releases(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Registrations cancelled before ``older_than`` whose place is still not handed on."""
        with translated_errors():
            resp = self._db.query(
                TableName=self._regs,
                IndexName=RELEASE_INDEX,
                KeyConditionExpression="release_shard = :one AND release_pending < :before",
                ExpressionAttributeValues={":one": value("1"), ":before": value(older_than.isoformat())},
                Limit=limit,
            )
        return [decode(i)["registration_id"] for i in resp.get("Items", [])]

    def _update(
        self,
        registration_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> Registration:
        if names is None:
            names = {"#s": "status"}
        kwargs: dict[str, Any] = {
            "TableName": self._regs,
            "Key": {"registration_id": value(registration_id)},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = {k: value(v) for k, v in values.items()}
        with translated_errors():
            try:
                resp = self._db.update_item(**kwargs)
            except ClientError as exc:
                if is_condition_failure(exc):
                    raise Conflict("registration changed") from None
                raise
        return _from_item(decode(resp["Attributes"]))


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
    "cancel_reason",
)


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
    if reg.visits:
        data["visits"] = [_visit_item(v) for v in reg.visits]
        data["appt_rev"] = reg.appt_rev
    return data


def _visit_item(visit: Visit) -> dict[str, Any]:
    return visit.model_dump(mode="json", exclude_none=True)


def _from_item(item: dict[str, Any]) -> Registration:
    item = dict(item)
    item["release_pending"] = "release_pending" in item
    item["removals"] = {r: item.pop(f"rm_{r}") for r in REGISTRIES if f"rm_{r}" in item}
    if "appt_date" in item:
        item["appointment"] = {"date": item.pop("appt_date"), "site": item.pop("appt_site")}
        if "visits" not in item:  # written before doses were kept: its one appointment is dose 1
            item["visits"] = [{**item["appointment"], "dose": 1, "status": VisitStatus.BOOKED.value}]
    if isinstance(item.get("registered_at"), str):
        item["registered_at"] = datetime.fromisoformat(item["registered_at"]).astimezone(UTC)
    return Registration.model_validate(item)
