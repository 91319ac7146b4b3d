"""Each phone's app-channel registrations: at most ``PHONE_REGISTRATION_LIMIT`` active at once
(contract v1.1) and at most ``PHONE_LIFETIME_LIMIT`` different people over the campaign, cancelled
ones included (v1.2).

One item per phone in the campaign table, ``phones#<keyed hash of the phone>`` (the phone itself
is never stored here):

- ``n``           the shares held: the phone's active app registrations;
- ``s_<person>``  one per share, named by a digest of the person (of their pointer); its value is a
                  digest of the receipt code of the registration that holds it. A person holds at
                  most one share of a phone;
- ``ps``          the set of person digests the phone ever took a share for: its different people.
                  A person is added once (a set), and a cancel does not take them out.

A share is taken *before* the registration is written, in one conditional write that checks both
limits and adds the person to ``ps``; a refusal comes back with the item as it was
(``PhoneState``), which says why without a read. A share is given back only by the registration
that holds it (``#s = :code``): a cancel, a reclaim, or a request that took it and then stored
nothing. So concurrent takes can never count past either limit, a share is given back once, and the
counts err, if ever, against the phone (a request that dies between its share and its
registration leaves the share held), never past a limit.
"""

from __future__ import annotations

from typing import Any

from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import PhoneState, Share, code_digest, person_of


class PhoneStore:
    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk",))

    def take(self, phone_hash: str, registration_id: str, limit: int, lifetime: int) -> Share:
        """The phone's share for ``registration_id`` (and its person among the phone's people), if the
        phone has fewer than ``limit`` shares held and the person is one of its people already or it
        has fewer than ``lifetime``. Taking it again for the same registration answers taken.

        Raises Overloaded (``maybe_applied`` when the write may have landed).
        """
        person, mine = person_of(registration_id), code_digest(registration_id)
        values = {":mine": mine, ":one": 1, ":people": {person}, ":person": person, ":limit": limit}
        try:
            old = self._t.update(
                (phone_item_key(phone_hash),),
                "SET #s = :mine ADD n :one, ps :people",
                "attribute_not_exists(#s) AND (attribute_not_exists(n) OR n < :limit)"
                " AND (attribute_not_exists(ps) OR contains(ps, :person) OR size(ps) < :lifetime)",
                values | {":lifetime": lifetime},
                names={"#s": "s_" + person},
                returns="UPDATED_OLD",
            )
            return Share(taken=True, new_person=person not in old.get("ps", set()))
        except ConditionFailed as failed:
            holder = PhoneState.of(failed.old).holders.get(person)
        if holder == mine:
            return Share(taken=True)  # a retry of this take
        return Share(taken=False, held_by=holder)

    def adopt(self, phone_hash: str, registration_id: str, held_by: str) -> bool:
        """The share its person holds through the registration ``held_by`` (a digest) passes to
        ``registration_id``, which replaced it (counts unchanged); False if that one holds it no more.
        Raises Overloaded."""
        try:
            self._t.update(
                (phone_item_key(phone_hash),),
                "SET #s = :mine",
                "#s = :theirs",
                {":mine": code_digest(registration_id), ":theirs": held_by},
                names={"#s": "s_" + person_of(registration_id)},
            )
            return True
        except ConditionFailed:
            return False

    def give_back(self, phone_hash: str, registration_id: str, forget_person: bool = False) -> bool:
        """The share ``registration_id`` holds, back; False if it holds none (given back already,
        never taken, or passed on). With ``forget_person`` (a share taken for a registration that was
        then not stored, whose take added the person) the person leaves the phone's people too: safe,
        as nobody else could have relied on them being there while this registration held the
        person's share. Raises Overloaded."""
        person = person_of(registration_id)
        values: dict[str, Any] = {":minus": -1, ":mine": code_digest(registration_id)}
        if forget_person:
            values[":people"] = {person}
        try:
            self._t.update(
                (phone_item_key(phone_hash),),
                "REMOVE #s ADD n :minus" + (" DELETE ps :people" if forget_person else ""),
                "#s = :mine",
                values,
                names={"#s": "s_" + person},
            )
            return True
        except ConditionFailed:
            return False

    def count(self, phone_hash: str) -> int:
        """The phone's active app registrations as counted (tests and operators)."""
        return PhoneState.of(self._t.get(phone_item_key(phone_hash))).active

    def people(self, phone_hash: str) -> int:
        """How many different people the phone registered (tests and operators)."""
        return len(PhoneState.of(self._t.get(phone_item_key(phone_hash))).people)


def phone_item_key(phone_hash: str) -> str:
    return "phones#" + phone_hash
