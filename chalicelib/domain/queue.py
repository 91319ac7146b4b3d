"""The waiting room's pure rules (contract v1.2, "The waiting room"): tickets, the order of the line,
the pace of admissions, a ticket's status, and the signed admission token. No AWS, no HTTP.

A ticket's ID says where its place will be written: its arrival second ``s`` and shard ``k`` (a
ticket joined after the opening is sequenced with the others of ``(s, k)``), or, before the
opening, its pre-queue bucket ``j``; and the first 96 bits of its phone's keyed hash (the admission
token binds them). The sequencer writes one bucket item per ``(s, k)`` (per ``j`` for the
pre-queue) with the positions of its tickets, each named by a digest of its whole ID.

``serving`` is a function of time: a list of :class:`Segment` (a start time, the position served
then, a rate). A position's admission time is when ``serving`` first reaches it after it was
sequenced; it never changes once the segments covering it are written, so every read of a ticket
gives the same admission (and the same token), and nobody is admitted twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from chalicelib.domain.models import Phone, _Body
from chalicelib.domain.names import TICKET_PATTERN as TICKET_PATTERN
from chalicelib.domain.verification import VerificationTokenText, signed_subject, signed_token

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
# A second s is sequenced once now >= s + 1 + GRACE_SECONDS: the joins of s have landed (and reached
# the index) by then; a later one is found by its own reader and joins the line anew (``late``).
GRACE_SECONDS = 1.0
# Joins per second one shard key takes before another is opened (DynamoDB: ~1,000 writes/s a key).
PER_SHARD_JOINS = 250
# At most this many seconds are sequenced in one round (a round's bucket writes and, after a failed
# round, its tombstones stay bounded).
MAX_SPAN = 10
# A re-anchored segment (the line ran dry) is written at most this often: at most this many seconds
# of admissions can be given at once to people who join an empty line.
REANCHOR_SECONDS = 5.0
# Segments older than the admission window (and this margin) are dropped: a position admitted before
# the oldest kept segment has expired.
KEEP_MARGIN_SECONDS = 120.0
# The sequencer marks every so often which arrival second a position came from (the oldest wait).
MARK_EVERY_SECONDS = 10.0
# After the opening the pre-queue reads its places at about this many a second (half the prod
# stage's throttle), over at most PRE_SPREAD_MAX_SECONDS (well inside an admission's minutes).
PRE_READS_PER_SECOND = 250
PRE_SPREAD_MAX_SECONDS = 600

QueueStatus = Literal["not_open", "open", "full", "closed"]
TicketStatus = Literal["waiting", "admitted", "expired", "full"]


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


def shards_needed(peak_joins_per_second: int, most: int) -> int:
    return max(1, min(most, math.ceil(peak_joins_per_second / PER_SHARD_JOINS)))


# -- the order ----------------------------------------------------------------------------------------


def arrival_order(tickets: Iterable[str]) -> list[str]:
    """The order within one arrival second and shard: by ticket ID (its random part decides)."""
    return sorted(tickets)


def pre_queue_order(tickets: Iterable[str], seed: bytes) -> list[str]:
    """The pre-queue in a random order: by HMAC(seed, ID), the seed drawn at the opening. Nobody can
    know their rank before the seed exists, and arriving earlier changes nothing."""
    return sorted(tickets, key=lambda t: hmac.new(seed, t.encode("ascii"), hashlib.sha256).digest())


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


# -- the pace ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """From ``at`` (epoch seconds) ``serving`` grows from ``served`` at ``rate`` a minute."""

    at: float
    served: float
    rate: float


def raw_serving(segments: Sequence[Segment], now: float) -> float:
    """``serving`` by the segments alone (it may run past the line's end: see :func:`serving`)."""
    current = None
    for seg in segments:
        if seg.at <= now:
            current = seg
        else:
            break
    if current is None:
        return 0.0
    return current.served + current.rate * (now - current.at) / 60.0


def admission_time(segments: Sequence[Segment], position: int, sequenced_at: float) -> float:
    """When ``serving`` first reaches ``position`` at or after ``sequenced_at``; ``inf`` while the
    segments say it never will (a rate of 0)."""
    if not segments:
        return math.inf
    first = 0
    for i, seg in enumerate(segments):
        if seg.at <= sequenced_at:
            first = i
    for i in range(first, len(segments)):
        seg = segments[i]
        start = max(seg.at, sequenced_at) if i == first else seg.at
        end = segments[i + 1].at if i + 1 < len(segments) else math.inf
        if seg.served + seg.rate * (start - seg.at) / 60.0 >= position:
            return start
        if seg.rate > 0:
            reached = seg.at + (position - seg.served) * 60.0 / seg.rate
            if reached < end:
                return max(reached, start)
    return math.inf


def with_rate(segments: Sequence[Segment], now: float, rate: float, total: int) -> list[Segment]:
    """The segments after the rate changes at ``now`` (a new segment from where ``serving`` is)."""
    served = min(raw_serving(segments, now), float(total)) if segments else 0.0
    return [*segments, Segment(now, served, rate)]


def after_round(
    segments: Sequence[Segment], at: float, total_before: int, rate: float, admission_seconds: float
) -> list[Segment]:
    """The segments once a round that sequenced new positions at ``at`` is written: if ``serving``
    had run past the line's end (the line was dry), it starts again from the end at ``at``, so that a
    crowd joining an empty line is still admitted at the pace (at most REANCHOR_SECONDS at once);
    segments no position still waiting can need are dropped."""
    kept = list(segments)
    if kept and raw_serving(kept, at) >= total_before and at - kept[-1].at >= REANCHOR_SECONDS:
        kept.append(Segment(at, float(total_before), rate))
        kept.sort(key=lambda s: s.at)
    horizon = at - admission_seconds - KEEP_MARGIN_SECONDS
    while len(kept) > 1 and kept[1].at <= horizon:
        kept.pop(0)
    return kept


# -- the state of the line --------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueState:
    """The queue's state item as the services read it."""

    exists: bool = False
    created: float = 0.0
    opened: bool = False
    opens_at: float | None = None  # the opening (REGISTRATION_OPENS_AT), None: open since ``created``
    sequenced_to: int = 0  # every second up to this one is sequenced (after the opening)
    total: int = 0  # positions given
    segments: tuple[Segment, ...] = ()
    rate: int = 0
    full: bool = False
    shards: int = 1
    wide: int = 0  # shards used before the last narrowing, for seconds up to ``wide_until``
    wide_until: int = 0
    pre_count: int = 0  # pre-queue joins counted so far (before the opening)
    pre_counted_to: int = 0
    round: int = 0  # the last round that claimed the line
    claim_until: float = 0.0  # a round is writing buckets until then
    dirty: bool = False  # a round's buckets may be left without its commit: tombstones needed
    segments_version: int = 0
    marks: tuple[tuple[int, int], ...] = ()  # (last position, arrival second) every MARK_EVERY_SECONDS
    last_shard_change: float = 0.0
    pre_shards: int = 1  # the shard keys joins before the opening are spread over
    seed: str = ""  # hex, drawn at the opening (the pre-queue's order); kept for the record

    def shards_for(self, second: int) -> int:
        """How many shard keys a join of ``second`` may have used."""
        return max(self.shards, self.wide if second <= self.wide_until else 0)

    def serving(self, now: float) -> int:
        if not self.opened:
            return 0
        return max(0, min(self.total, math.floor(raw_serving(self.segments, now))))

    def waiting(self, now: float) -> int:
        return self.total - self.serving(now) if self.opened else self.pre_count

    def status(self, now: float, before_seconds: float, app_open: bool) -> QueueStatus:
        if self.full:
            return "full"
        if not app_open:
            return "closed"
        if self.opens_at is not None and now < self.opens_at - before_seconds:
            return "not_open"
        return "open"

    def claimed(self, now: float) -> bool:
        return self.claim_until > now

    def with_(self, **changes: object) -> QueueState:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Place:
    """Where a ticket stands: its position (None until sequenced) and when it was sequenced."""

    position: int | None
    sequenced_at: float = 0.0


@dataclass(frozen=True)
class Standing:
    status: TicketStatus
    position: int | None
    ahead: int | None
    estimated_wait_s: int | None
    poll_after_s: int
    admitted_until: float | None


def standing(place: Place, state: QueueState, now: float, admission_seconds: float, spread_key: int) -> Standing:
    """A ticket's status at ``now``: waiting until ``serving`` reaches its position, then admitted for
    ``admission_seconds``, then expired; a waiting ticket says ``full`` once the line has stopped.
    ``spread_key`` (any number fixed for the ticket) spreads the pre-queue's first reads after the
    opening over ``pre_count / PRE_READS_PER_SECOND`` seconds (the stage's throttle takes ~500
    requests a second; the pre-queue may be 100,000 people, whose places are drawn at random anyway)."""
    rate = state.segments[-1].rate if state.segments else float(state.rate)
    if place.position is None:
        wait = _estimate(state, now, rate)
        if not state.opened and state.opens_at is not None:
            window = min(PRE_SPREAD_MAX_SECONDS, math.ceil(state.pre_count / PRE_READS_PER_SECOND))
            poll = max(2, math.ceil(state.opens_at - now + GRACE_SECONDS) + 2 + spread_key % max(1, window))
        else:
            poll = 2
        return Standing("full" if state.full else "waiting", None, None, wait, poll, None)
    position = place.position
    at = admission_time(state.segments, position, place.sequenced_at)
    serving = state.serving(now)
    if now < at:
        wait = None if math.isinf(at) else math.ceil(at - now)
        poll = 30 if wait is None else max(2, min(wait, 60))
        status: TicketStatus = "full" if state.full else "waiting"
        return Standing(status, position, max(0, position - serving), wait, poll, None)
    until = at + admission_seconds
    if now < until:
        return Standing("admitted", position, 0, 0, 60, until)
    return Standing("expired", position, 0, 0, 60, None)


def _estimate(state: QueueState, now: float, rate: float) -> int | None:
    """The wait of a ticket whose position is not known yet: the line ahead at the rate (and, before
    the opening, the time to it and half the pre-queue on average)."""
    if rate <= 0:
        return None
    if not state.opened and state.opens_at is not None:
        return max(0, math.ceil(state.opens_at - now + state.pre_count / 2 * 60 / rate))
    return math.ceil(max(0, state.waiting(now)) * 60 / rate)


def oldest_wait(state: QueueState, now: float) -> int:
    """Seconds the next person to be admitted has waited (to within MARK_EVERY_SECONDS); 0 when the
    line is empty."""
    serving = state.serving(now)
    if serving >= state.total:
        return 0
    for last, second in state.marks:
        if last > serving:
            return max(0, math.floor(now - second))
    return 0


# -- the admission token ----------------------------------------------------------------------------

_ADMISSION_VERSION = "qa1"


def admission_key(master: bytes) -> bytes:
    """The admission tokens' own key, derived from the service's HMAC key like the verification keys."""
    return hmac.new(master, b"kkreg/admission-token/v1", hashlib.sha256).digest()


def sign_admission(phone_key: str, until: int, key: bytes) -> str:
    """``qa1.<phone key, 96 bits>.<admitted_until, epoch s>.<HMAC-SHA256>``: checked with the key alone."""
    return signed_token(_ADMISSION_VERSION, phone_key[:PHONE_KEY_HEX], until, key)


def admission_valid(token: object, phone_key: str, now: int, key: bytes) -> bool:
    """True if ``token`` is ours, for this phone (its keyed hash, hex) and not past ``admitted_until``.
    Compared in constant time; anything malformed is False."""
    subject = signed_subject(token, _ADMISSION_VERSION, now, key)
    return subject is not None and hmac.compare_digest(
        subject.encode("ascii"), phone_key[:PHONE_KEY_HEX].encode("ascii")
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc


# -- the models of the routes -----------------------------------------------------------------------


class JoinRequest(_Body):
    """``{"verification_token"}``, or ``{"phone"}`` when phone verification is off."""

    verification_token: VerificationTokenText | None = Field(
        default=None, description="from POST /v1/verifications/{id}/confirm; required unless verification is off"
    )
    phone: Phone | None = Field(default=None, description="only when PHONE_VERIFICATION is off")


class TicketView(BaseModel):
    ticket: str = Field(description="q_ + the ticket's ID", examples=["q_AWlVxnAAAaNfg6z8Yh0sJk3bXQ7c8Vqe0lB2"])
    status: TicketStatus
    position: int | None = Field(description="1-based place in line; null for a few seconds after joining")
    ahead: int | None = Field(description="people ahead: position - serving")
    estimated_wait_s: int | None = Field(description="seconds until admission, at the current pace")
    poll_after_s: int = Field(description="when to ask about this ticket again (meanwhile read GET /v1/queue)")
    opens_at: str | None = Field(description="the opening (ISO 8601 UTC); null: open")
    admission_token: str | None = Field(
        default=None, description="admitted only: send it with each registration of this phone until admitted_until"
    )
    admitted_until: str | None = Field(default=None, description="admitted only (ISO 8601 UTC)")


class QueueView(BaseModel):
    status: QueueStatus
    opens_at: str | None = Field(description="the opening (ISO 8601 UTC); null: open")
    serving: int = Field(description="everyone up to this position has been admitted")
    waiting: int = Field(description="people in line not admitted yet")
    admit_per_minute: int


class AdminQueueView(QueueView):
    joined: int = Field(description="people given a place in line (before the opening: counted so far)")
    admitted: int = Field(description="positions admitted so far (serving)")
    oldest_wait_s: int = Field(description="how long the next person to be admitted has waited")
    sequenced_to: str | None = Field(description="joins up to this second have their place (ISO 8601 UTC)")


class AdmitRate(_Body):
    admit_per_minute: Annotated[
        StrictInt, Field(ge=0, le=100_000, description="households admitted a minute; 0 pauses the line")
    ]
