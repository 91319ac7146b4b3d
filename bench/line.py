"""The waiting room as the bench's phones meet it (contract v1.2, "The waiting room"): when each
household arrives, when its page polls, and what the line's answers must show. Pure: no HTTP, no
clock (times are arguments), so ``tests/unit/test_bench_line.py`` checks it on small made-up lines.

Times are wall-clock seconds (``time.time()``): the served stack runs on this machine, on the same
clock, so a join sent at ``t`` and answered at ``u`` was received by the service within ``[t, u]``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Of the households, this share joins the pre-queue before the opening; the rest arrive after it.
# With 2.5 people a phone, 60% of the phones hold ~90% of the places: the line fills while the later
# arrivals are still being admitted, so both halves of the order (random, then by arrival) are admitted.
PREQUEUE_SHARE = 0.6
# The bench's pace of admission, tickets (households) a minute: about what the local stack serves. It
# held 196 registrations/s while places remained (docs/benchmarks.md, run F), ~80 households/s at 2.5
# people a phone, less the line's own reads: ~70 households/s. At that pace the ~24,400 households that
# take the 60,000 places are admitted within ~350 s of the opening, leaving the rest of the 600 s for the
# background's drain (~70 s) and the full read (~20 s); on a slower machine the server sets the pace and
# the line runs a little ahead. Much faster and the line stops doing its work: serving would pass every
# household before the places are gone, and each admitted household past them is refused requests (the
# old burst's ~31,000). The deployed default (docs/capacity.md) is for AWS's capacity, not this machine's.
ADMIT_PER_MINUTE = 4_200
# The machine is shared, and its speed varies from run to run (and within one): the bench's admin sets
# the pace live (``PUT /v1/admin/queue``, as an operator would from the dashboard) every PACE_EVERY_S,
# to what the stack completes plus a correction towards PACE_BACKLOG households admitted and not done
# per client within PACE_SETTLE_S (enough to keep every client busy, few enough that the places run
# out before ``serving`` passes every household), between PACE_FLOOR and ADMIT_PER_MINUTE a minute.
# A change takes effect 2 s after it is set (the service's PACE_CHANGE_DELAY_SECONDS) and shows in
# the backlog later still: settling over two rounds keeps the pace from swinging.
PACE_EVERY_S = 5.0
PACE_SETTLE_S = 10.0
PACE_BACKLOG = 4
PACE_FLOOR = 600
# The clock of the phase before the opening, compressed: the stack starts, every phone verifies (the
# slowest full-size run verified 134 phones/s; the floor leaves room), then the pre-queue joins arrive
# spread over a window sized for joins at a floor rate, the last one sent this margin before the opening.
STARTUP_S = 20.0
VERIFY_FLOOR_PER_S = 100.0
JOIN_FLOOR_PER_S = 150.0
PREQUEUE_MIN_S = 10.0
PREQUEUE_MARGIN_S = 2.0
# Arrivals after the opening spread over this many seconds at the full size (scaled with it, at least 10 s).
ARRIVALS_AFTER_FULL_S = 120.0
FULL_SIZE = 100_000
# Polling: the page waits ``poll_after_s`` between two questions (at least MIN_POLL_S; DEFAULT_POLL_S
# when an answer has none). A pre-queue ticket's position exists only once the opening drew the order:
# its page asks no earlier than POSITION_SETTLE_S after the opening ("known within about 2 seconds"),
# each page at its own moment within OPENING_SPREAD_S so that the whole pre-queue does not ask at once.
MIN_POLL_S = 0.5
# With its position known, the page watches the shared status this often, whatever the ticket's
# poll_after_s (the public page's LINE_MS, chalicelib/web/static/line.js: the answer is cached for 2 s).
LINE_POLL_S = 3.0
DEFAULT_POLL_S = 2.0
POSITION_SETTLE_S = 2.0
OPENING_SPREAD_S = 5.0
# A serving value may be this old where it is read (the contract: one read per container a second, and
# a second's slack for a step in flight); the order checks judge no pair of answers closer than this.
SERVING_STALE_S = 2.0
# Fewer tickets than this on a side of the opening and its order check cannot tell: it fails.
MIN_SAMPLE = 30
# The pre-queue's rank correlation with arrival stays within this many standard deviations of 0
# (1/sqrt(n-1) for a random order): a false alarm once in ~1.7 million runs.
RANDOM_SIGMAS = 5.0


@dataclass(frozen=True)
class Opening:
    """When the registration opens and how the line is set up for the bench (``settings`` for the stack)."""

    opens_at: int  # epoch seconds, a whole second
    prequeue_window_s: float
    arrivals_after_s: float
    queue_opens_minutes_before: int
    admit_per_minute: int

    @staticmethod
    def plan(phones: int, prequeue: int, attempts: int, now: float, opens_in_s: float | None = None) -> Opening:
        """The opening for ``phones`` to verify and ``prequeue`` of them to join before it, from ``now``.

        ``opens_in_s`` overrides the estimate (``BENCH_OPENS_IN_S``) when this machine is slower.
        """
        window = max(PREQUEUE_MIN_S, prequeue / JOIN_FLOOR_PER_S)
        lead = opens_in_s if opens_in_s is not None else STARTUP_S + phones / VERIFY_FLOOR_PER_S + window
        lead += PREQUEUE_MARGIN_S
        return Opening(
            opens_at=math.ceil(now + lead),
            prequeue_window_s=window,
            arrivals_after_s=max(10.0, ARRIVALS_AFTER_FULL_S * attempts / FULL_SIZE),
            # The queue is open from the stack's start: every pre-queue join finds it open.
            queue_opens_minutes_before=math.ceil(lead / 60) + 1,
            admit_per_minute=ADMIT_PER_MINUTE,
        )

    def settings(self) -> dict[str, str]:
        """The served stack's environment for this opening."""
        return {
            "WAITING_ROOM": "on",
            "REGISTRATION_OPENS_AT": datetime.fromtimestamp(self.opens_at, UTC).isoformat(timespec="seconds"),
            "QUEUE_OPENS_MINUTES_BEFORE": str(self.queue_opens_minutes_before),
            "ADMIT_PER_MINUTE": str(self.admit_per_minute),
        }


def prequeue_count(households: int) -> int:
    return round(households * PREQUEUE_SHARE)


def join_times(prequeue: int, later: int, start: float, opening: Opening) -> list[float]:
    """When each household joins, in arrival order: ``prequeue`` spread evenly over the pre-queue window
    (from ``start`` if it began later than planned), the last sent ``PREQUEUE_MARGIN_S`` before the
    opening; then ``later`` spread evenly over ``arrivals_after_s`` from the opening."""
    first = max(start, opening.opens_at - opening.prequeue_window_s)
    last = max(first, opening.opens_at - PREQUEUE_MARGIN_S)
    step = (last - first) / max(1, prequeue - 1) if prequeue > 1 else 0.0
    before = [first + i * step for i in range(prequeue)]
    after = [opening.opens_at + i * opening.arrivals_after_s / later for i in range(later)] if later else []
    return before + after


@dataclass(frozen=True)
class Next:
    """What a page does after an answer about its ticket: ``register`` (admitted), ``read`` its ticket
    again at ``at``, ``wait`` (watch the shared ``GET /v1/queue`` every ``period`` s from ``at``), or
    ``done`` with ``outcome``."""

    action: str
    at: float
    period: float = 0.0
    outcome: str = ""


def pace(done_per_s: float, in_flight: int, clients: int) -> int:
    """The admission pace (households a minute) for a stack that completed ``done_per_s`` households a
    second lately, with ``in_flight`` admitted households not done yet: the completions, plus what
    brings the backlog to PACE_BACKLOG a client within PACE_SETTLE_S, within [PACE_FLOOR, ADMIT_PER_MINUTE]."""
    per_s = done_per_s + (PACE_BACKLOG * clients - in_flight) / PACE_SETTLE_S
    return max(PACE_FLOOR, min(ADMIT_PER_MINUTE, round(per_s * 60)))


def pace_held(per_minute: int, current: int, done: int, in_flight: int, clients: int, finding_out: bool) -> bool:
    """Whether the admin keeps ``current`` rather than setting ``per_minute`` (what ``pace`` says).

    - Until a client's worth of households (``done``) has completed since the opening there is no rate
      to measure: the first ones are still on their first attempts. (In run L the pace fell to the
      floor 10 s after the opening with none done yet, and took 20 s to climb back.)
    - While the pre-queue is still finding out its places, how fast the admitted register says how fast
      they find out, not how fast the stack serves: the pace does not come down for it while the
      backlog is short. It still rises, and comes down once the stack is behind. (It used to only come
      down then: in run G it fell to the floor 30 s after the opening and could not rise for 65 s.)"""
    if done < clients:
        return True
    return finding_out and per_minute < current and in_flight <= PACE_BACKLOG * clients


def poll_after(answer: dict[str, Any]) -> float:
    """The answer's ``poll_after_s``, honoured: at least MIN_POLL_S, DEFAULT_POLL_S when missing."""
    value = answer.get("poll_after_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_POLL_S
    return max(MIN_POLL_S, float(value))


def after_answer(answer: dict[str, Any], answered_at: float, opens_at: float, spread: float) -> Next:
    """The page's next step after a join's or ticket read's answer at ``answered_at``.

    ``spread`` (0 to 1, the page's own draw) places a pre-queue page's first read after the opening
    within OPENING_SPREAD_S.
    """
    if answer.get("admission_token"):
        return Next("register", answered_at)
    status = answer.get("status")
    if status != "waiting":
        return Next("done", answered_at, outcome=str(status))
    wait = poll_after(answer)
    if answer.get("position") is None:
        at = answered_at + wait
        if answered_at < opens_at:
            # The order is drawn at the opening: asking before it only costs a read.
            at = max(at, opens_at + POSITION_SETTLE_S + spread * OPENING_SPREAD_S)
        return Next("read", at)
    return Next("wait", answered_at, period=LINE_POLL_S)


def notice(since: float, period: float, seen_at: float) -> tuple[float, int]:
    """When a page polling the shared status every ``period`` s from ``since`` first sees a value the
    shared cache got at ``seen_at``, and how many polls it made to get there (at least one)."""
    polls = max(1, math.ceil((seen_at - since) / period - 1e-9))
    return since + polls * period, polls


# The checks. Each takes what the clients saw and returns whether the contract's order held.


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def rank_correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (nan when either is constant)."""
    rx, ry = ranks(xs), ranks(ys)
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else float("nan")


def prequeue_shuffled(joins: Sequence[tuple[float, int]]) -> tuple[bool, float]:
    """Whether the pre-queue's positions ignore its arrival order: ``joins`` are (sent at, position) of the
    tickets whose join was answered before the opening. Held when their rank correlation is within
    RANDOM_SIGMAS standard deviations of a random order's (0); fails with fewer than MIN_SAMPLE tickets.
    Returns (held, the correlation)."""
    if len(joins) < MIN_SAMPLE:
        return False, float("nan")
    rho = rank_correlation([t for t, _ in joins], [float(p) for _, p in joins])
    return abs(rho) <= RANDOM_SIGMAS / math.sqrt(len(joins) - 1), rho


def follows_arrival_seconds(prequeue_positions: Iterable[int], later: Sequence[tuple[float, float, int]]) -> bool:
    """Whether the tickets joined after the opening are in the order the service received them, to the
    second, behind the whole pre-queue.

    ``later``: (sent at, answered at, position) of each join sent at or after the opening. The service
    received it in a second between ``floor(sent)`` and ``floor(answered)``; the positions hold when
    some choice of those seconds, one per ticket, never decreases in position order (within a second,
    any order). That is the whole tolerance: a pair is out of order only when the later position's
    join was answered in a second before the one in which the earlier position's join was sent.
    """
    if len(later) < MIN_SAMPLE:
        return False
    before = list(prequeue_positions)
    ordered = sorted(later, key=lambda j: j[2])
    if before and max(before) >= ordered[0][2]:
        return False
    second = -math.inf
    for sent, answered, _ in ordered:
        second = max(second, math.floor(sent))
        if second > math.floor(answered):
            return False
    return True


def admissions_in_order(
    reads: Sequence[tuple[float, float, int, str]], polls: Sequence[tuple[float, float, int]]
) -> bool:
    """Whether every admission came in position order (``admission_disorder`` found nothing)."""
    return admission_disorder(reads, polls) is None


def admission_disorder(
    reads: Sequence[tuple[float, float, int, str]], polls: Sequence[tuple[float, float, int]]
) -> str | None:
    """The first sign that admissions did not come in position order, as one ``serving`` counter that
    only grows; None when there is none.

    ``reads``: (sent, answered, position, status) of every ticket answer with a position; ``polls``:
    (sent, answered, serving) of the shared status's answers. Out of order, judged only for answers
    more than SERVING_STALE_S apart: a ticket still ``waiting`` after a higher (or the same) position
    was read ``admitted``, or after a status showed ``serving`` at or past it; a ticket ``admitted``
    while a status asked for afterwards showed ``serving`` below it. Nobody admitted is a sign too.
    """
    admitted = sorted((answered, pos) for _, answered, pos, st in reads if st == "admitted")
    if not admitted:
        return "nobody admitted"
    served = sorted((answered, serving) for _, answered, serving in polls)
    waiting = sorted((sent, pos) for sent, _, pos, st in reads if st == "waiting")
    a = s = 0
    top_admitted = top_served = -math.inf
    for sent, pos in waiting:
        while a < len(admitted) and admitted[a][0] + SERVING_STALE_S < sent:
            top_admitted = max(top_admitted, admitted[a][1])
            a += 1
        while s < len(served) and served[s][0] + SERVING_STALE_S < sent:
            top_served = max(top_served, served[s][1])
            s += 1
        if pos <= top_admitted or pos <= top_served:
            return (
                f"position {pos} read waiting at {sent:.1f} after position {top_admitted:.0f} was admitted"
                f" and serving {top_served:.0f} shown"
            )
    # The lowest serving shown by any status asked for after each moment.
    by_sent = sorted((sent, serving) for sent, _, serving in polls)
    sent_times = [t for t, _ in by_sent]
    lowest_after = [math.inf] * (len(by_sent) + 1)
    for i in range(len(by_sent) - 1, -1, -1):
        lowest_after[i] = min(lowest_after[i + 1], by_sent[i][1])
    for answered, pos in admitted:
        lowest = lowest_after[bisect_right(sent_times, answered + SERVING_STALE_S)]
        if lowest < pos:
            return f"position {pos} admitted at {answered:.1f}, serving {lowest} shown afterwards"
    return None


# Figures.


def busiest_key(keys: dict[str, Any], table: str) -> dict[str, Any] | None:
    """The busiest partition key of the run's key table (``bench.keys.summary``) with the design's
    ceiling, and the busiest of ``table`` (the line's own, with its ceiling alone); None when the
    meter counted no write."""
    top = keys.get("busiest_write_key")
    if not top:
        return None
    own = next((r for r in keys.get("writes", []) if r["table"] == table), None)
    per = own["busiest_writes_per_confirmation"] if own else 0.0
    return {
        **top,
        "ceiling_confirmations_per_s": keys.get("ceiling_confirmations_per_s"),
        "busiest_of_the_line": None
        if own is None
        else {k: own[k] for k in ("table", "index", "pattern", "busiest_key", "busiest_writes", "peak_writes_per_s")}
        | {
            "writes_per_confirmation": per,
            "ceiling_confirmations_per_s": keys.get("partition_write_limit_per_s", 1_000) / per if per else None,
        },
    }


# The meter's names for the line's requests (local/meter.py).
LINE_PATHS = {"join": "queue_join", "ticket": "queue_ticket", "admission": "queue_admission", "status": "queue_status"}


def aws_per_phone(paths: dict[str, Any], phones: int) -> dict[str, Any] | None:
    """AWS requests of the line's requests per household (join, ticket reads, the admitting read, the
    shared status) and in all, with each request's own figure, from the meter's paths; None when the
    meter counted none of them."""
    found = {name: paths[key] for name, key in LINE_PATHS.items() if isinstance(paths.get(key), dict)}
    if not found or not phones:
        return None
    per_phone = {name: v["aws_requests_per_request"] * v["requests"] / phones for name, v in found.items()}
    return {
        "per_phone": {**per_phone, "line": sum(per_phone.values())},
        "per_request": {name: v["aws_requests_per_request"] for name, v in found.items()},
        "requests": {name: v["requests"] for name, v in found.items()},
    }
