"""Where a registration lives: a person's current one at ``p#<pointer>``, a superseded one under its
receipt code; the sparse indexes the background work reads; what is kept of a reclaimed code."""

from __future__ import annotations

import base64
import hashlib
import zlib

from chalicelib.domain import rules
from chalicelib.store.types import Item

RELEASE_INDEX = "release-pending"
REMOVAL_INDEX = "removal-pending"
APPOINTMENT_PENDING_INDEX = "appointment-pending"
APPOINTMENT_DAY_INDEX = "appointment-day"

# The sparse indexes' partition key (``removal_shard``, ``appt_shard``, ``release_shard``) is one of
# ``INDEX_SHARDS`` values, so that no index partition takes every confirmation's writes: on AWS a
# partition takes ~1,000 writes a second, and each confirmation writes ``removal-pending`` twice (in,
# and out when the sweep is done with it) and ``appointment-pending`` once. 16 shards: 2/16 = 0.125
# writes per confirmation on the busiest, a ceiling of 8,000 confirmations a second (docs/capacity.md).
# The readers query every shard; a registration written before the spread carries "1", one of them.
# Never lower it while registrations wait in an index: a shard past the new count would go unread.
INDEX_SHARDS = 16
SHARDS = tuple(str(k) for k in range(INDEX_SHARDS))
# Each sharded index's partition key and sort key.
SPREAD_INDEXES = {
    RELEASE_INDEX: ("release_shard", "release_pending"),
    REMOVAL_INDEX: ("removal_shard", "removal_due"),
    APPOINTMENT_PENDING_INDEX: ("appt_shard", "appt_pending"),
}


def shard_of(code: str) -> str:
    """The index shard of the registration with this receipt code (random, so the shards fill evenly)."""
    return SHARDS[zlib.crc32(code.encode("ascii", "replace")) % INDEX_SHARDS]


def home(pointer: bytes) -> str:
    """The key of a person's current registration."""
    return "p#" + base64.urlsafe_b64encode(pointer).decode("ascii").rstrip("=")


def key_of(code: str) -> str | None:
    """The key of the person a receipt code names (None: not a receipt code)."""
    pointer = rules.code_pointer(code)
    return home(pointer) if pointer is not None else None


def digest(code: str) -> str:
    """What a registration keeps of a receipt code a reclaim replaced: enough to recognise it, not
    the code itself (a copy of the table does not hand out codes that once worked)."""
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()[:32]


def reclaimed_from(item: Item, code: str) -> bool:
    """The person's item once had ``code``, which a counter reclaim replaced."""
    return digest(code) in (item.get("reclaimed") or [])
