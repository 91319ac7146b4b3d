"""How many active app-channel registrations each phone has (contract v1.1: at most
``PHONE_REGISTRATION_LIMIT``).

One item per phone in the campaign table, ``phones#<keyed hash of the phone>`` (the phone itself
is never stored here): ``n`` the phone's active app registrations, and a ``back_<h>`` mark per
cancellation whose share was given back (``h``: a hash of its receipt code), so that a give-back
counts once however often a retried cancel asks for it. A share is taken only while ``n`` is under
the limit and given back only while ``n`` is above zero, each in one conditional write: concurrent
registrations of one phone can never count past the limit.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.store.table import ConditionFailed, Table


class PhoneStore:
    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk",))

    def take(self, phone_hash: str, limit: int) -> bool:
        """One share of the phone for a new registration; False when it has ``limit`` already.

        Raises Overloaded (``maybe_applied`` when the write may have landed).
        """
        try:
            self._t.update(
                (_key(phone_hash),),
                "ADD n :one",
                "attribute_not_exists(n) OR n < :limit",
                {":one": 1, ":limit": limit},
            )
            return True
        except ConditionFailed:
            return False

    def give_back(self, phone_hash: str, registration_id: str) -> bool:
        """The share of a cancelled registration, once per registration; False if it was given
        back already (or the count is zero: nothing to give back). Raises Overloaded."""
        mark = "back_" + hashlib.sha256(registration_id.encode("utf-8")).hexdigest()[:32]
        try:
            self._t.update(
                (_key(phone_hash),),
                "ADD n :minus SET #b = :one",
                "n > :zero AND attribute_not_exists(#b)",
                {":minus": -1, ":zero": 0, ":one": 1},
                names={"#b": mark},
            )
            return True
        except ConditionFailed:
            return False

    def count(self, phone_hash: str) -> int:
        """The phone's active app registrations as counted (reconciliation and tests)."""
        return int(self._t.get(_key(phone_hash), projection="n").get("n", 0))


def _key(phone_hash: str) -> str:
    return "phones#" + phone_hash
