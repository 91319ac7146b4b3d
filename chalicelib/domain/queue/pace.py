"""The pace of the line: ``serving`` as a function of time, and the line's state.

``serving`` is kept as a list of :class:`Segment` (a start time, the position served then, a rate a
minute). A position's admission time is when ``serving`` first reaches it after it was sequenced; it
never changes once the segments covering it are written, so every read of a ticket gives the same
admission (and the same token), and nobody is admitted twice. A new rate appends a segment from
where ``serving`` is; a line that ran dry is re-anchored at its end when new positions come, so a
crowd joining an empty line is still admitted at the pace. Segments and marks no waiting position can
need are dropped: the state never grows with the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

# A re-anchored segment (the line ran dry) is written at most this often: at most this many seconds
# of admissions can be given at once to people who join an empty line.
REANCHOR_SECONDS = 5.0
# Segments older than the admission window (and this margin) are dropped: a position admitted before
# the oldest kept segment has expired.
KEEP_MARGIN_SECONDS = 120.0
# The sequencer marks every so often which arrival second a position came from (the oldest wait).
MARK_EVERY_SECONDS = 10.0

QueueStatus = Literal["not_open", "open", "full", "closed"]


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
