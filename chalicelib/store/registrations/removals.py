"""The removal outbox: each confirmed registration's removal from the other registries (``rm_<r>``
per registry, ``tries_<r>``), due at ``removal_due`` in a sparse index the removal sweep reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Registration
from chalicelib.store.registrations.base import RegistrationTable
from chalicelib.store.registrations.keys import REMOVAL_INDEX, SHARDS, shard_of


class RemovalOutbox(RegistrationTable):
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
            condition = " AND ".join(conds) or None
            self._change(reg.registration_id, update.strip(), condition, values, archived=reg.archived)
            return True
        except Conflict:
            return False

    def reopen_removal(self, reg: Registration, registry: str, was: str) -> bool:
        """A removed person is booked in that registry again: back to pending (and into the index)."""
        try:
            self._change(
                reg.registration_id,
                "SET #r = :pending, removal_due = :now, removal_shard = :shard",
                "#r = :was",
                {
                    ":pending": "pending",
                    ":was": was,
                    ":now": datetime.now(UTC).isoformat(),
                    ":shard": shard_of(reg.registration_id),
                },
                {"#r": f"rm_{registry}"},
                archived=reg.archived,
            )
            return True
        except Conflict:
            return False

    def make_due(self, reg: Registration, now: datetime) -> bool:
        """Reconciliation's re-drive: a removal that failed (or waits out a long backoff) is due now."""
        try:
            self._change(
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

    def due_removals(self, now: datetime, limit: int) -> list[Registration]:
        """Up to ``limit`` registrations whose removal from the registries is due, oldest first: one
        read of each shard of the sparse index, then their items (a BatchGetItem per 100)."""
        entries, _ = self._spread_page(REMOVAL_INDEX, "removal_due <= :now", {":now": now.isoformat()}, limit)
        return self._items_of(entries)

    def open_removals(self) -> list[Registration]:
        """Every registration with a removal still open (pending or failed), whenever it is due."""
        entries = [e for k in SHARDS for e in self._t.query("removal_shard = :k", {":k": k}, index=REMOVAL_INDEX)]
        return self._items_of(entries)
