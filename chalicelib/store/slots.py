"""Appointment places per day and site, and who came or was missed.

``slot#<day>#<site>``  ``used`` appointments booked on that day at that site (dose 1 and later doses
                       together, never above the site's capacity), ``came`` and ``missed`` the sets
                       of ``<registration>:<dose>`` checked in, or found missing when the day closed.
"""

from __future__ import annotations

import contextlib

from chalicelib.domain.errors import Conflict
from chalicelib.store.table import Table
from chalicelib.store.types import SlotDay


class SlotStore:
    def __init__(self, table: Table) -> None:
        self._t = table

    def take_slot(self, day: str, site: int, capacity: int) -> bool:
        """One place at ``site`` on ``day`` if it has room (conditional: never overfilled)."""
        try:
            self._t.update(
                (f"slot#{day}#{site}",),
                "ADD used :one",
                "attribute_not_exists(used) OR used < :cap",
                {":one": 1, ":cap": capacity},
            )
            return True
        except Conflict:
            return False

    def free_slot(self, day: str, site: int, registration_id: str | None = None) -> None:
        """Give back one place on that day: once per ``registration_id`` however often it is asked
        (without one, the caller's own compare-and-set makes it once)."""
        names = {"#f": f"freed_{registration_id}"} if registration_id else None
        with contextlib.suppress(Conflict):  # given back already, or empty: nothing to give back
            self._t.update(
                (f"slot#{day}#{site}",),
                "ADD used :minus" + (" SET #f = :one" if names else ""),
                "used > :zero" + (" AND attribute_not_exists(#f)" if names else ""),
                {":minus": -1, ":zero": 0} | ({":one": 1} if names else {}),
                names=names,
            )

    def record_visit(self, day: str, site: int, outcome: str, member: str) -> None:
        """Add ``member`` (``<registration>:<dose>``) to the day's ``came`` or ``missed`` set.
        A set: recording it twice (a retry, a duplicate delivery) is recording it once."""
        if outcome not in ("came", "missed"):
            raise ValueError(outcome)
        self._t.update((f"slot#{day}#{site}",), "ADD #o :m", None, {":m": {member}}, names={"#o": outcome})

    def slots(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], SlotDay]:
        """The slot items of these (day, site) pairs, read in BatchGetItems (absent: all empty)."""
        found = self._t.batch_get([(f"slot#{day}#{site}",) for day, site in keys], "pk, used, came, missed")
        items = {str(i["pk"]): i for i in found}
        out = {}
        for day, site in keys:
            item = items.get(f"slot#{day}#{site}", {})
            out[(day, site)] = SlotDay(
                int(item.get("used", 0)), frozenset(item.get("came", ())), frozenset(item.get("missed", ()))
            )
        return out

    def raise_slot(self, day: str, site: int, places: int) -> None:
        """Count ``places`` more bookings on a day (a counter found too low): it can only hold places
        back, never give one twice."""
        self._t.update((f"slot#{day}#{site}",), "ADD used :n", None, {":n": places})
