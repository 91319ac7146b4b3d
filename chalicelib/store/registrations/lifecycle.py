"""A registration's state changes after it is made: its cancellation and the steps that follow it,
its promotion from the reserve, and the release of the place a cancelled one held. Each is
conditional on the receipt code, so a superseded registration is never touched by mistake."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.store.registrations.base import RegistrationTable, assignments
from chalicelib.store.registrations.codec import cancellation
from chalicelib.store.registrations.keys import RELEASE_INDEX, shard_of


class Lifecycle(RegistrationTable):
    def cancel(self, reg: Registration, now: datetime, unchanged_visits: bool = False) -> Registration:
        """Cancel ``reg`` if its status is still the one read (and, with ``unchanged_visits``, its
        appointments too: no dose given since, as an erasure requires); the place it held is then
        pending release, and the steps that follow (counters, appointment slot) are listed in
        ``todo`` so that a retried cancel finishes what an interrupted one left undone.

        Raises Conflict when the status (or the appointments) changed meanwhile (a promotion,
        another cancel, a check-in).
        """
        sets, values = assignments(cancellation(reg, now))
        update = "SET #s = :cancelled, " + ", ".join(sets) + " REMOVE appt_pending, appt_shard"
        values |= {":cancelled": Status.CANCELLED.value, ":expected": reg.status.value}
        condition = "#s = :expected"
        if unchanged_visits:
            condition += " AND " + ("appt_rev = :rev" if reg.appt_rev else "attribute_not_exists(appt_rev)")
            if reg.appt_rev:
                values[":rev"] = reg.appt_rev
        return self._written(self._change(reg.registration_id, update, condition, values, returns="ALL_NEW"))

    def take_step(self, registration_id: str, step: str) -> bool:
        """Claim one follow-up step of a cancellation (once): False if it was taken already."""
        try:
            self._change(registration_id, "DELETE todo :step", "contains(todo, :s)", {":step": {step}, ":s": step})
            return True
        except Conflict:
            return False

    def promote(self, registration_id: str, vacancy_id: str, now: datetime) -> Registration:
        """Reserve -> confirmed, recording which vacancy's place it took. Raises Conflict otherwise.

        The same write marks the removals from the other registries pending (the outbox the removal
        sweep reads), and the registration as counted (the promotion's counters are added by the caller).
        """
        removals = ", ".join(f"rm_{r} = :pending" for r in REGISTRIES)
        update = (
            f"SET #s = :confirmed, promoted_by = :by, promoted_at = :now, {removals}, counted = :t,"
            " removal_due = :now, removal_shard = :shard, appt_pending = :now, appt_shard = :shard"
        )
        values = {
            ":confirmed": Status.CONFIRMED.value,
            ":reserve": Status.RESERVE.value,
            ":by": vacancy_id,
            ":now": now.isoformat(),
            ":pending": "pending",
            ":shard": shard_of(registration_id),
            ":t": True,
        }
        return self._written(self._change(registration_id, update, "#s = :reserve", values, returns="ALL_NEW"))

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
        self._change(registration_id, update, cond, values, names)

    def finish_release(self, registration_id: str) -> None:
        """The held place has been handed on: drop the pending marker (idempotent)."""
        with contextlib.suppress(Conflict):  # superseded already: nothing is pending there
            self._change(registration_id, "REMOVE release_pending, release_shard, release_target", None, {}, {})

    def hand_to_newcomers(self, registration_id: str, now: datetime) -> bool:
        """The place of a pending release goes back to newcomers: the release is finished (and the
        hand-over noted) before the place is parked, so only the run that wins this write parks it.
        False if the release is not pending any more, or somebody on the reserve was chosen for it."""
        try:
            self._change(
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
        self._change(
            registration_id,
            "SET release_pending = :now, release_shard = :one REMOVE to_newcomers",
            "attribute_exists(to_newcomers)",
            {":now": now.isoformat(), ":one": "1"},
        )

    def pending_releases(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Registrations cancelled before ``older_than`` whose place is still not handed on, oldest
        first (a query per index shard)."""
        entries, _ = self._spread_page(
            RELEASE_INDEX, "release_pending < :before", {":before": older_than.isoformat()}, limit
        )
        return [r.registration_id for r in self._items_of(entries)]
