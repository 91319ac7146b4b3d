"""The campaign table's ``gate`` item, shared by the quota and the reserve.

``gate``  ``ra`` active reserve, ``seq`` last reserve ticket issued, ``parked`` primary places given
          back while nobody waited on the reserve, ``applied`` a map event-id -> time that makes each
          release/exit count once however often its job runs. Invariant: ``parked > 0`` only while
          ``ra == 0`` (so a freed place never goes to a newcomer while someone waits on the reserve).
          A reserve entry also adds its statistics here (read back by ``StatisticsStore.stats``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item

GATE = "gate"


class Gate:
    def __init__(self, table: Table) -> None:
        self._t = table
        self._ready = False
        # Until when this container takes the gate as full (no place parked, the reserve at
        # capacity): refusals do not ask it meanwhile (``QuotaStore``). A place this container
        # frees here (a reserve exit, a parked place) ends it at once.
        self.full_until = 0.0

    def ensure(self) -> None:
        """Create the gate with its counters at zero the first time this container writes it."""
        if self._ready:
            return
        with contextlib.suppress(ConditionFailed):  # there already
            self._t.put({"pk": GATE, "ra": 0, "seq": 0, "parked": 0, "applied": {}})
        self._ready = True

    def update(
        self,
        update: str,
        condition: str | None,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        returns: str = "NONE",
        create: bool = True,
    ) -> Item:
        """A conditional update of the gate, created first unless ``create`` is False (an update whose
        condition holds on a missing gate, and that needs no ``applied`` map, creates it itself).
        Raises ConditionFailed (the gate as it was), Overloaded."""
        if create:
            self.ensure()
        return self._t.update((GATE,), update, condition, values, names, returns)

    def read(self, projection: str) -> Item:
        return self._t.get(GATE, projection=projection)

    def applied(self, event_id: str) -> bool:
        item = self._t.get(GATE, projection="applied.#e", names={"#e": event_id})
        return event_id in item.get("applied", {})

    def forget_applied(self, older_than: int) -> int:
        """Prune idempotency marks of events settled long ago; returns how many were removed."""
        removed = 0
        for event_id, at in self.read("applied").get("applied", {}).items():
            if at < older_than:
                try:
                    self._t.update(
                        (GATE,), "REMOVE applied.#e", "applied.#e = :at", {":at": at}, names={"#e": event_id}
                    )
                    removed += 1
                except Conflict:
                    pass
        return removed
