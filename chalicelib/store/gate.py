"""The campaign table's ``gate`` item, shared by the quota and the reserve.

``gate``  ``ra`` active reserve, ``seq`` last reserve ticket issued, ``parked`` primary places given
          back while nobody waited on the reserve, ``xb`` a map block -> how many of the block's
          reserve exits ``ra`` has taken off (``store.reserve``: one entry per ``TICKET_BLOCK``
          tickets issued, never one per event). Invariant: ``parked > 0`` only while ``ra == 0`` (so a
          freed place never goes to a newcomer while someone waits on the reserve).
          A reserve entry also adds its statistics here (read back by ``StatisticsStore.stats``).
No request adds anything to the gate per event: its size is bounded by the tickets issued (a map
entry per block) and the statistics' keys, whatever the traffic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

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
            self._t.put({"pk": GATE, "ra": 0, "seq": 0, "parked": 0, "xb": {}})
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
        condition holds on a missing gate, and that needs no ``xb`` map, creates it itself).
        Raises ConditionFailed (the gate as it was), Overloaded."""
        if create:
            self.ensure()
        return self._t.update((GATE,), update, condition, values, names, returns)

    def read(self, projection: str) -> Item:
        return self._t.get(GATE, projection=projection)
