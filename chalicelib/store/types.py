"""The values the store protocols (``store/protocols.py``) answer and raise, apart from the domain
models: what a service may hold of a store without importing one. No store logic lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
