"""A registration's erasure (contract v1.2): its personal fields removed in one conditional write,
so no item is ever half-erased."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.models import Registration
from chalicelib.store.registrations.base import RegistrationTable
from chalicelib.store.registrations.codec import PERSONAL_FIELDS


class Erasure(RegistrationTable):
    def erase(self, reg: Registration, now: datetime) -> Registration:
        """Remove ``reg``'s personal fields (``codec.PERSONAL_FIELDS``) and the fingerprint of the
        request that made it, and mark it erased, in one write: only while its status and its
        appointments are those read (what the caller judged it on: no dose given, or past its
        retention day) and it is not erased already. The keyed hash it is stored under, its status,
        channel, dates, consent record, visits and removal answers stay; it leaves the allocation
        index (nobody books an erased person). Returns the registration as written.

        Raises Conflict (changed meanwhile, or erased already), Overloaded.
        """
        values: dict[str, Any] = {":now": now.isoformat(), ":st": reg.status.value}
        unchanged = "appt_rev = :rev" if reg.appt_rev else "attribute_not_exists(appt_rev)"
        if reg.appt_rev:
            values[":rev"] = reg.appt_rev
        update = "SET erased_at = :now REMOVE " + ", ".join((*PERSONAL_FIELDS, "idem", "appt_pending", "appt_shard"))
        condition = f"#s = :st AND {unchanged} AND attribute_not_exists(erased_at)"
        written = self._change(reg.registration_id, update, condition, values, archived=reg.archived, returns="ALL_NEW")
        return self._written(written)
