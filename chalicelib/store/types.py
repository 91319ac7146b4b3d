"""The values the store protocols (``store/protocols.py``) answer and raise, apart from the domain
models: what a service may hold of a store without importing one. No store logic lives here."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import rules
from chalicelib.domain.models import Registration

# A table item as the stores read and write it: plain Python values (``store/codec.py``).
Item = dict[str, Any]


class Taken(Exception):
    """The person has a registration that a new one may not replace: ``current``, and the
    Idempotency-Key fingerprint it was made with (None if it was made without one)."""

    def __init__(self, current: Registration, fingerprint: str | None) -> None:
        super().__init__("taken")
        self.current = current
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class PlaceCounts:
    primary_taken: int
    parked: int
    reserve_active: int
    reserve_seq: int
    # Places this container took ahead and has not given to anyone yet (other containers' are
    # counted as taken until they are used, or dropped and handed on by reconciliation).
    in_hand: int = 0

    @property
    def primary_used(self) -> int:
        return self.primary_taken - self.parked - self.in_hand


@dataclass(frozen=True)
class Overflow:
    """A place found after the primary shards: a reserve ticket (and its rank), or None for a
    parked primary place."""

    ticket: int | None
    rank: int | None = None


@dataclass(frozen=True)
class Ticket:
    number: int
    registration_id: str | None
    issued_at: float | None
    void: bool


@dataclass(frozen=True)
class SlotDay:
    used: int
    came: frozenset[str]
    missed: frozenset[str]


@dataclass(frozen=True)
class PendingVerification:
    phone: str
    code_expires: int


@dataclass(frozen=True)
class Glance:
    current: tuple[Registration, str | None] | None  # as ``Registrations.current``
    gate: Item | None  # None: not asked
    channels: dict[str, bool] | None  # None: not asked
    phone: PhoneState | None = None  # None: not asked


@dataclass(frozen=True)
class PhoneState:
    """A phone's item as read: the shares held, the people it took a share for, and who holds one."""

    active: int
    people: frozenset[str]
    holders: Mapping[str, str]  # person digest -> digest of the receipt code holding the share

    @classmethod
    def of(cls, item: Item) -> PhoneState:
        holders = {k[2:]: str(v) for k, v in item.items() if k.startswith("s_")}
        return cls(int(item.get("n", 0)), frozenset(item.get("ps", set())), holders)

    def holds(self, registration_id: str) -> str | None:
        """The code digest holding the share of the person of ``registration_id`` here, if any."""
        return self.holders.get(person_of(registration_id))

    def refuses(self, registration_id: str, limit: int, lifetime: int) -> bool:
        """A share for the person of ``registration_id`` is over a limit. A person who holds a share
        of this phone already is not refused here: their registration answers them (a repeat from
        the household's own phone), and it says nothing the phone's holder does not know."""
        person = person_of(registration_id)
        if person in self.holders:
            return False
        return self.active >= limit or (person not in self.people and len(self.people) >= lifetime)


@dataclass(frozen=True)
class Share:
    """What ``take`` answered: ``taken`` (the registration holds the share; ``new_person`` when the
    take added its person to the phone's people), ``held_by`` (not taken: the person holds a share of
    this phone through another registration, this code digest), or neither: refused at a limit."""

    taken: bool
    new_person: bool = False
    held_by: str | None = None

    @property
    def refused(self) -> bool:
        return not self.taken and self.held_by is None


@dataclass(frozen=True)
class QueueTicket:
    """A phone's ticket in the waiting room, as stored under the phone's key: its ID, and, when its
    first arrival second was sequenced without it (it landed late), the second and shard it joined
    again under."""

    ticket: str
    moved_to: int | None = None
    moved_shard: int | None = None


@dataclass(frozen=True)
class QueueBucket:
    """The positions the sequencer wrote for one arrival second and shard (``ids``: the tickets'
    digests in order from ``base`` + 1), or for one pre-queue bucket (``positions``: digest ->
    position). ``at``: when they were sequenced; ``round``: the round that wrote them."""

    at: float
    round: int
    base: int = 0
    ids: str = ""
    positions: str = ""


def person_of(registration_id: str) -> str:
    """The person of a receipt code as the phone's item names them: a digest of their pointer (the
    code carries it), never the pointer itself."""
    pointer = rules.code_pointer(registration_id) or registration_id.encode("utf-8")
    return hashlib.sha256(b"phone-person:" + pointer).hexdigest()[:16]


def code_digest(registration_id: str) -> str:
    """What a share keeps of the receipt code holding it."""
    return hashlib.sha256(registration_id.encode("utf-8")).hexdigest()[:16]
