"""A confirmed registration's appointments (every dose's visits, compare-and-set on ``appt_rev``),
the SMS sent for them, and the indexes of who waits for one and who comes on a day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.doses import Visit, next_booked
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Registration, Status
from chalicelib.store.registrations.base import RegistrationTable, assignments
from chalicelib.store.registrations.codec import cancellation, visit_item
from chalicelib.store.registrations.keys import APPOINTMENT_DAY_INDEX, APPOINTMENT_PENDING_INDEX, shard_of


class Visits(RegistrationTable):
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
        as given, in one compare-and-set; it is then cancelled as ``cancel`` leaves one (its place
        pending release, its steps in ``todo``), with ``cancel_reason`` no_show. Raises Conflict."""
        extra = cancellation(reg, now) | {"cancel_reason": "no_show"}
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
            ":v": [visit_item(v) for v in visits],
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
            sets += ["appt_pending = :now", "appt_shard = :shard"]
            values |= {":now": datetime.now(UTC).isoformat(), ":shard": shard_of(reg.registration_id)}
        else:
            removes += ["appt_pending", "appt_shard"]
        if then is not None:
            sets.append("#s = :then")
            values[":then"] = then.value
        more, more_values = assignments(extra or {})
        sets += more
        values |= more_values
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s = :st AND " + ("appt_rev = :old" if reg.appt_rev else "attribute_not_exists(appt_rev)")
        if reg.appt_rev:
            values[":old"] = reg.appt_rev
        written = self._change(reg.registration_id, update, condition, values, archived=reg.archived, returns="ALL_NEW")
        return self._written(written)

    def mark_sms(self, registration_id: str, key: str) -> bool:
        """Record that the SMS for this appointment was sent; False if it had been already."""
        try:
            self._change(
                registration_id,
                "SET sms_sent_for = :key",
                "attribute_not_exists(sms_sent_for) OR sms_sent_for <> :key",
                {":key": key},
            )
            return True
        except Conflict:
            return False

    def appointments_page(
        self, day: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Receipt codes of registrations whose next appointment is on ``day``, a page at a time."""
        page = self._t.query_page(
            "appt_date = :day", {":day": day}, index=APPOINTMENT_DAY_INDEX, cursor=cursor, limit=limit
        )
        return [str(i.get("code", i["registration_id"])) for i in page.items], page.cursor

    def waiting_for_appointment(
        self, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        """Confirmed registrations without an appointment, in registration order, a page at a time
        (a query per index shard still unread, merged)."""
        entries, next_cursor = self._spread_page(APPOINTMENT_PENDING_INDEX, None, {}, limit, cursor)
        return self._items_of(entries), next_cursor

    def appointments_on(self, day: str) -> list[Registration]:
        """Everyone with an appointment on ``day``, in registration order."""
        return [self._read(i) for i in self._t.query("appt_date = :day", {":day": day}, index=APPOINTMENT_DAY_INDEX)]
