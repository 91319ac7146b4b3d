"""How many active app-channel registrations each phone has (contract v1.1: at most
``PHONE_REGISTRATION_LIMIT``).

One item per phone in the campaign table, ``phones#<keyed hash of the phone>`` (the phone itself
is never stored here): ``n`` the phone's active app registrations, and one ``h_<h>`` mark per share
held (``h``: a hash of the registration's receipt code). A share is taken with its mark, only while
``n`` is under the limit; it is given back only if its mark is there, removing it. So a retried
take counts once, a give-back counts once, and a registration whose share was never taken (a
request that died between its two writes) never gives back one it does not hold: the count can be
low by such a registration, never high, and concurrent registrations can never count past the limit.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.store.table import ConditionFailed, Table


class PhoneStore:
    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk",))

    def take(self, phone_hash: str, registration_id: str, limit: int) -> bool:
        """One share of the phone for ``registration_id``; False when the phone has ``limit`` already.
        Taking it again for the same registration is a no-op (True).

        Raises Overloaded (``maybe_applied`` when the write may have landed).
        """
        mark = _mark(registration_id)
        try:
            self._t.update(
                (_key(phone_hash),),
                "SET #h = :one ADD n :one",
                "attribute_not_exists(#h) AND (attribute_not_exists(n) OR n < :limit)",
                {":one": 1, ":limit": limit},
                names={"#h": mark},
            )
            return True
        except ConditionFailed as failed:
            return mark in failed.old  # held already: this is a retry of the same take

    def give_back(self, phone_hash: str, registration_id: str) -> bool:
        """The share ``registration_id`` holds, back; False if it holds none (given back already, or
        never taken). Raises Overloaded."""
        try:
            self._t.update(
                (_key(phone_hash),),
                "REMOVE #h ADD n :minus",
                "attribute_exists(#h)",
                {":minus": -1},
                names={"#h": _mark(registration_id)},
            )
            return True
        except ConditionFailed:
            return False

    def count(self, phone_hash: str) -> int:
        """The phone's active app registrations as counted (reconciliation and tests)."""
        return int(self._t.get(_key(phone_hash), projection="n").get("n", 0))


def _key(phone_hash: str) -> str:
    return "phones#" + phone_hash


def _mark(registration_id: str) -> str:
    return "h_" + hashlib.sha256(registration_id.encode("utf-8")).hexdigest()[:32]
