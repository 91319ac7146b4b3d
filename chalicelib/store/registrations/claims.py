"""The person's registration: the claim that is the registration, its undoing, reading it by person
or receipt code, and a counter reclaim that gives it a new code."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import ConsentRecord, Registration, Status
from chalicelib.store.registrations.base import RegistrationTable
from chalicelib.store.registrations.codec import SEALED
from chalicelib.store.registrations.keys import digest, home, key_of, reclaimed_from
from chalicelib.store.table import ConditionFailed
from chalicelib.store.types import Taken


class Claims(RegistrationTable):
    def create(self, reg: Registration, pointer: bytes, fingerprint: str | None) -> None:
        """Store ``reg`` as the person's current registration (the claim and the registration in one
        write). A cancelled registration whose place has been handed on is kept under its code and
        replaced.

        Raises Taken with the registration found, Conflict if it changed meanwhile, Overloaded.
        """
        owner = home(pointer)
        stored = {"registration_id": owner, "code": reg.registration_id, "idem": fingerprint}
        item = self._codec.item(reg, owner) | stored
        try:
            self._t.put(item)
            return
        except ConditionFailed as failed:
            old = failed.old
        if not old:
            raise Conflict("registration vanished")
        current = self._read(old)
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
        return self._codec.current_of(self._t.get(home(pointer)))

    def get(self, code: str) -> Registration | None:
        """The registration with this receipt code (current or superseded), or None."""
        return self._resolve(code, follow=False)

    def find(self, code: str) -> Registration | None:
        """``get`` for the service's own jobs: also the registration a counter reclaim gave a new
        code since (returned with its new code), as a ticket, a removal list or a promotion target
        may still name the old one. Never for a code a request brings: that one is dead."""
        return self._resolve(code, follow=True)

    def _resolve(self, code: str, follow: bool) -> Registration | None:
        key = key_of(code)
        if key is None:
            return None
        item = self._t.get(key)
        if item and hmac.compare_digest(str(item.get("code", "")).encode(), code.encode()):
            return self._read(item)
        if item and follow and reclaimed_from(item, code):
            return self._read(item)
        archived = self._t.get(code)
        return self._read(archived) if archived else None

    def reclaim(
        self,
        reg: Registration,
        new_code: str,
        details: dict[str, str],
        label: str,
        now: datetime,
        consent: ConsentRecord | None = None,
    ) -> Registration:
        """Give the person's active registration ``reg`` the details of the person at the counter
        (``details``: names, birth date, phone, basis, detail) and a new receipt code, in one
        compare-and-set on its version as read: status, place, ticket and appointments stay. The
        old code stops resolving (``find`` still follows it, for the jobs that hold it); the
        Idempotency-Key of the request that made it is dropped, so its replay is no longer answered
        with this registration. The channel becomes ``counter``; ``consent`` (the staff member's
        confirmation that the card holder agreed) replaces the consent record.

        Raises Conflict when it changed meanwhile (read it again), Overloaded.
        """
        fields = ("first_name", "last_name", "birth_date", "phone", "basis", "detail")
        sets = [f"{name} = :{name}" for name in fields]
        owner = key_of(reg.registration_id) or reg.registration_id
        sealed = self._codec.sealed(owner, {name: details[name] for name in fields if name in SEALED})
        values: dict[str, Any] = {f":{name}": sealed.get(name, details[name]) for name in fields}
        unchanged = "ver = :ver" if reg.version else "attribute_not_exists(ver)"
        if reg.version:
            values[":ver"] = reg.version
        values |= {
            ":new": new_code,
            ":channel": "counter",
            ":label": label,
            ":now": now.isoformat(),
            ":old": [digest(reg.registration_id)],
            ":none": [],
            ":confirmed": Status.CONFIRMED.value,
            ":reserve": Status.RESERVE.value,
        }
        if consent is not None:
            sets.append("consent = :consent")
            values[":consent"] = consent.model_dump(mode="json")
        update = (
            "SET " + ", ".join(sets) + ", code = :new, channel = :channel, label = :label, reclaimed_at = :now,"
            " reclaimed = list_append(if_not_exists(reclaimed, :none), :old) REMOVE idem"
        )
        condition = f"(#s = :confirmed OR #s = :reserve) AND {unchanged}"
        return self._written(self._change(reg.registration_id, update, condition, values, returns="ALL_NEW"))
