"""The removal sweep's lease and each registry's backoff: the campaign table's ``removals`` item
(``holder``, ``until_at``; ``down_<registry>`` until when it is left alone, ``fails_<registry>``
failures in a row; ``counted_to``: every confirmation made before it is in the statistics)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.store.table import Table

REMOVALS = "removals"


class RemovalControlStore:
    def __init__(self, table: Table) -> None:
        self._t = table

    def lease_removals(self, holder: str, now: float, seconds: float) -> dict[str, Any] | None:
        """Take (or renew) the removal sweep's lease: the control item, or None if another sweep
        holds it. The item also carries each registry's backoff (``down_<registry>``, ``fails_<registry>``)."""
        try:
            return self._t.update(
                (REMOVALS,),
                "SET holder = :h, until_at = :until",
                "attribute_not_exists(until_at) OR until_at < :now OR holder = :h",
                {":h": holder, ":until": round(now + seconds, 3), ":now": round(now, 3)},
                returns="ALL_NEW",
            )
        except Conflict:
            return None

    def removal_control(self) -> dict[str, Any]:
        """The removal sweep's control item (each registry's backoff), read without taking the lease."""
        return self._t.get(REMOVALS)

    def counted_to(self) -> datetime | None:
        """The instant before which every confirmation is in the statistics (None: no sweep has
        ended yet)."""
        value = self.removal_control().get("counted_to")
        return datetime.fromisoformat(str(value)) if value else None

    def save_registry_health(self, health: dict[str, tuple[float, int]]) -> None:
        """Record each registry's backoff (a list sweep: no lease to give back)."""
        sets, values = _health(health)
        self._t.update((REMOVALS,), "SET " + sets, None, values)

    def end_removals(
        self,
        holder: str,
        health: dict[str, tuple[float, int]],
        release: bool = True,
        counted_to: datetime | None = None,
    ) -> None:
        """Record each registry's backoff (down until, failures in a row); give the lease back
        unless the sweep goes on (``release`` False); ``counted_to``, in the same write, when the
        sweep found nothing due before it."""
        sets, values = _health(health)
        if counted_to is not None:
            sets = ", ".join(filter(None, (sets, "counted_to = :counted_to")))
            values[":counted_to"] = counted_to.isoformat()
        update = ("SET " + sets if sets else "") + (" REMOVE holder, until_at" if release else "")
        with contextlib.suppress(Conflict):  # the lease ran out and another sweep took it
            self._t.update((REMOVALS,), update.strip(), "holder = :h", values | {":h": holder})


def _health(health: dict[str, tuple[float, int]]) -> tuple[str, dict[str, Any]]:
    sets = ", ".join(f"down_{r} = :d_{r}, fails_{r} = :f_{r}" for r in health)
    values: dict[str, Any] = {}
    for r, (down, fails) in health.items():
        values |= {f":d_{r}": round(down, 3), f":f_{r}": fails}
    return sets, values
