"""A waiting-room ticket, the order of the line, and the buckets its positions are written in.

A ticket's ID says where its place will be written: its arrival second ``s`` and shard ``k`` (a
ticket joined after the opening is sequenced with the others of ``(s, k)``), or, before the
opening, its pre-queue bucket ``j``; and the first 96 bits of its phone's keyed hash (the admission
token binds them). The sequencer writes one bucket item per ``(s, k)`` (per ``j`` for the
pre-queue) with the positions of its tickets, each named by a digest of its whole ID, so a forged
ID (another phone key on a real ticket's second and random part) is found in no bucket.

Within an arrival second and shard the order is the IDs' (their random part decides). The
pre-queue's order is drawn at the opening from a seed that did not exist before it, band by band: an
ID's digest puts it in one of PRE_BANDS equal bands (a tenth of the pre-queue), the bands come in
order and the seed orders each one. Arriving early buys nothing (the band is as random as the ID),
and before the opening an ID tells only its tenth, not its rank. The band is also when a page reads
its place after the opening (``standing``): the pre-queue's reads, spread over minutes, come in the
order of the places, so each page knows its place before ``serving`` reaches it as long as those
reads (PRE_READS_PER_SECOND) keep ahead of the pace (with one spread for
all, a place near the front was read as late as one at the back: people were admitted without
knowing it). :func:`parse_ticket` accepts only what :func:`new_ticket` could have made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalicelib.domain.names import TICKET_PATTERN as TICKET_PATTERN

TICKET_VERSION = 1
# TICKET_PATTERN (domain.names): q_ + URL-safe base64 of 26 bytes: version, second (4), shard (1),
# phone key (12), random (8).
PHONE_KEY_HEX = 24
_RANDOM_BYTES = 8
_TICKET_BYTES = 1 + 4 + 1 + PHONE_KEY_HEX // 2 + _RANDOM_BYTES
# Bucket entries name a ticket by this many bytes of the SHA-256 of its whole ID: a forged ID (another
# phone key on a real ticket's second and random part) has another digest, found in no bucket.
DIGEST_BYTES = 8
# The pre-queue's positions are written in this many buckets (one per j): 100,000 people make ~390
# entries of 12 bytes a bucket (~6 KB as text), 1,000,000 ~60 KB: far under DynamoDB's 400 KB.
PRE_BUCKETS = 256
# The pre-queue's order, and its reads after the opening, go band by band (see above).
PRE_BANDS = 10
# A second s is sequenced once now >= s + 1 + GRACE_SECONDS: the joins of s have landed (and reached
# the index) by then; a later one is found by its own reader and joins the line anew (``late``).
GRACE_SECONDS = 1.0
# The index may show a put this long after it returned: a join whose put came back later than
# GRACE_SECONDS - INDEX_LAG_SECONDS after its second (or the opening) may be missing from its round,
# so it moves itself to the second it came back in (``tickets.join``); its round, if it did see it,
# keeps that place (``sequencer``). A place is never given twice, and nobody received after it goes
# ahead of it: ordered "to the second" at any store latency, not only while every put lands in time.
INDEX_LAG_SECONDS = 0.5
# Joins per second one shard key takes before another is opened (DynamoDB: ~1,000 writes/s a key).
PER_SHARD_JOINS = 250
# At most this many seconds are sequenced in one round (a round's bucket writes and, after a failed
# round, its tombstones stay bounded).
MAX_SPAN = 10

# -- tickets ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketId:
    """What a ticket's ID says."""

    text: str
    second: int
    shard: int
    phone_key: str  # hex, the first 96 bits of the phone's keyed hash

    @property
    def pre_bucket(self) -> int:
        """The pre-queue bucket of this ticket (if it joined before the opening)."""
        raw = _b64decode(self.text[2:])
        return int.from_bytes(raw[-_RANDOM_BYTES:][:2], "big") % PRE_BUCKETS

    @property
    def digest(self) -> str:
        return digest_of(self.text)


def new_ticket(second: int, shard: int, phone_key: str) -> TicketId:
    raw = (
        bytes([TICKET_VERSION])
        + second.to_bytes(4, "big")
        + bytes([shard])
        + bytes.fromhex(phone_key[:PHONE_KEY_HEX])
        + secrets.token_bytes(_RANDOM_BYTES)
    )
    return TicketId("q_" + _b64(raw), second, shard, phone_key[:PHONE_KEY_HEX])


def parse_ticket(text: object) -> TicketId | None:
    """The ticket an ID names, or None when it is not one we could have issued."""
    if not isinstance(text, str) or len(text) != 37 or not text.startswith("q_") or not text.isascii():
        return None
    try:
        raw = _b64decode(text[2:])
    except ValueError:
        return None
    if len(raw) != _TICKET_BYTES or raw[0] != TICKET_VERSION or _b64(raw) != text[2:]:
        return None
    return TicketId(text, int.from_bytes(raw[1:5], "big"), raw[5], raw[6:18].hex())


def digest_of(ticket: str) -> str:
    """The name of a ticket in its bucket (URL-safe base64, 11 characters)."""
    return _b64(hashlib.sha256(ticket.encode("ascii")).digest()[:DIGEST_BYTES])


def arrival_key(second: int, shard: int) -> str:
    """The index key a ticket joined after the opening is written under."""
    return f"q#{second}#{shard}"


def pre_key(shard: int) -> str:
    """The index key of a ticket joined before the opening (one of ``shards_max``)."""
    return f"q#pre#{shard}"


def read_at(second: int, opens_at: float | None) -> float:
    """When the round that places a ticket of ``second`` reads its arrivals at the earliest: the
    opening's (a ticket of the pre-queue), or its second's once closed."""
    if opens_at is not None and second < opens_at:
        return opens_at + GRACE_SECONDS
    return second + 1 + GRACE_SECONDS


def shards_needed(peak_joins_per_second: int, most: int) -> int:
    return max(1, min(most, math.ceil(peak_joins_per_second / PER_SHARD_JOINS)))


# -- the order ----------------------------------------------------------------------------------------


def arrival_order(tickets: Iterable[str]) -> list[str]:
    """The order within one arrival second and shard: by ticket ID (its random part decides)."""
    return sorted(tickets)


def spread_key(ticket: str) -> int:
    """A number fixed for a ticket and as random as its ID: the first 32 bits of its digest."""
    return int.from_bytes(hashlib.sha256(ticket.encode("ascii")).digest()[:4], "big")


def pre_band(ticket: str) -> int:
    """The ticket's band of the pre-queue (0 to PRE_BANDS - 1): where in the order its place is drawn,
    and when after the opening it reads it."""
    return spread_key(ticket) % PRE_BANDS


def pre_queue_order(tickets: Iterable[str], seed: bytes) -> list[str]:
    """The pre-queue in a random order: band by band (``pre_band``), and within a band by HMAC(seed,
    ID), the seed drawn at the opening. Nobody can know their rank before the seed exists, and arriving
    earlier changes nothing."""
    return sorted(tickets, key=lambda t: (pre_band(t), hmac.new(seed, t.encode("ascii"), hashlib.sha256).digest()))


def new_seed() -> bytes:
    return secrets.token_bytes(32)


def pack_positions(entries: Sequence[tuple[str, int]]) -> str:
    """A pre-queue bucket's entries (digest, position) as stored: ``digest:position`` joined by commas."""
    return ",".join(f"{d}:{p}" for d, p in entries)


def unpack_positions(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for entry in filter(None, text.split(",")):
        d, _, p = entry.partition(":")
        found[d] = int(p)
    return found


def pack_ids(digests: Sequence[str]) -> str:
    """An arrival bucket's tickets in order, as stored (digests have a fixed length)."""
    return "".join(digests)


def index_in(packed: str, digest: str) -> int | None:
    """Where ``digest`` is in a packed arrival bucket (0-based), or None."""
    width = len(digest)
    for i in range(0, len(packed), width):
        if packed[i : i + width] == digest:
            return i // width
    return None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc
