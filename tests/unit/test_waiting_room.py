"""The waiting room's rules (services.waiting_room's modules on the in-memory stores): the order of the line,
the pace of admissions, the admission itself, and ``full``. Time is the test's clock."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.config import admission_key
from chalicelib.domain.errors import AdmissionRequired, NotFound, Overloaded, QueueNotOpen, RegistrationFull
from chalicelib.domain.queue import order
from chalicelib.domain.queue.pace import REANCHOR_SECONDS
from chalicelib.domain.queue.standing import sign_admission
from chalicelib.domain.queue.views import JoinRequest, TicketView
from chalicelib.domain.verification import phone_hash
from chalicelib.services.waiting_room import admission, rounds, sequencer
from chalicelib.services.waiting_room import line as waiting_line
from chalicelib.services.waiting_room import tickets as tickets_service
from tests.helpers import Clock, raising
from tests.unit.fakes import FakeStores

OPENS = datetime(2026, 12, 20, 2, 0, tzinfo=UTC).timestamp()  # 09:00 in Bangkok


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock(OPENS - 600)
    monkeypatch.setattr(waiting_line, "clock", found)
    return found


@pytest.fixture
def line(campaign: Any, clock: Clock) -> Iterator[Any]:
    """``line(**settings)``: the waiting room on, opening at OPENS (unless told), 60 admitted a
    minute, admissions good for 15 minutes; the fake stores."""

    def start(primary: int = 100, reserve: int = 10, **env: str) -> FakeStores:
        settings = {
            "WAITING_ROOM": "on",
            "REGISTRATION_OPENS_AT": datetime.fromtimestamp(OPENS, UTC).isoformat(),
            "ADMIT_PER_MINUTE": "60",
            "QUEUE_SHARDS": "4",
        } | env
        return campaign(primary=primary, reserve=reserve, **settings)  # type: ignore[no-any-return]

    yield start


def phone(n: int) -> str:
    return f"08{n:08d}"


def join(n: int) -> TicketView:
    view, _ = tickets_service.join(JoinRequest(phone=phone(n)))
    return view


def positions(tickets: list[str]) -> list[int | None]:
    return [tickets_service.ticket(t).position for t in tickets]


def sequence_all(clock: Clock) -> None:
    """Rounds until every closed second is sequenced (as the schedule does, second after second)."""
    for _ in range(1000):
        if not sequencer.sequence_once().behind:
            return
    raise AssertionError("the sequencer never caught up")


# -- order ----------------------------------------------------------------------------------------------


def test_the_pre_queue_is_drawn_at_random_at_the_opening(line: Any, clock: Clock) -> None:
    # Given 60 people joining one after the other in the half hour before the opening
    line()
    clock.at(OPENS - 1800)
    tickets = []
    for n in range(60):
        tickets.append(join(n).ticket)
        clock.passes(25)
    # When the line has no positions before the opening, then gets them at the opening
    assert positions(tickets) == [None] * 60
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    got = positions(tickets)
    # Then the positions are 1..60, each once, and not the order they came in
    assert sorted(p for p in got if p is not None) == list(range(1, 61))
    assert got != list(range(1, 61))
    # And arriving earlier bought nothing: the first half is not ahead of the second half on average
    first_half = sum(p for p in got[:30] if p is not None) / 30
    assert 15 < first_half < 46


def test_the_pre_queue_order_is_unknowable_before_the_seed() -> None:
    # Given the same tickets / When ordered with two seeds / Then two different orders, neither by ID
    tickets = [order.new_ticket(100 + n, 0, "ab" * 12).text for n in range(40)]
    one, two = order.pre_queue_order(tickets, order.new_seed()), order.pre_queue_order(tickets, order.new_seed())
    assert sorted(one) == sorted(tickets) and one != two and one != sorted(tickets)


def test_the_pre_queue_is_drawn_band_by_band_and_at_random_within_a_band() -> None:
    # Given 400 tickets of the pre-queue, in the order they came
    tickets = [order.new_ticket(100 + n, 0, "ab" * 12).text for n in range(400)]
    # When the order is drawn with two seeds
    one, two = order.pre_queue_order(tickets, order.new_seed()), order.pre_queue_order(tickets, order.new_seed())
    # Then the bands come in order, each a fair share of the pre-queue (its ID's random part decides)
    assert [order.pre_band(t) for t in one] == sorted(order.pre_band(t) for t in tickets)
    assert all(10 <= sum(1 for t in tickets if order.pre_band(t) == b) <= 80 for b in range(order.PRE_BANDS))
    # And within each band the seed decides: the bands hold the same tickets, in other orders
    for band in range(order.PRE_BANDS):
        mine = [t for t in one if order.pre_band(t) == band]
        theirs = [t for t in two if order.pre_band(t) == band]
        assert sorted(mine) == sorted(theirs)
        assert mine != theirs
    # And arriving earlier buys nothing: the first half of the arrivals is not ahead on average
    rank = {t: i for i, t in enumerate(one)}
    assert 150 < sum(rank[t] for t in tickets[:200]) / 200 < 250


def read_a_minute_before_the_opening(line: Any, clock: Clock, people: int, pre_count: int) -> dict[str, int]:
    """``people`` join the pre-queue, ``pre_count`` are counted in it, and each ticket is read a minute
    before the opening: its ``poll_after_s``."""
    st = line()
    clock.at(OPENS - 60)
    tickets = [join(n).ticket for n in range(people)]
    st.queue.current = st.queue.current.with_(pre_count=pre_count)
    waiting_line.forget()
    return {t: tickets_service.ticket(t).poll_after_s for t in tickets}


def test_the_pre_queue_reads_its_places_band_by_band_before_serving_reaches_them(line: Any, clock: Clock) -> None:
    # Given 2,500 counted in the pre-queue (a 10 s spread), read a minute before the opening
    polls = read_a_minute_before_the_opening(line, clock, 200, 2500)
    tickets = list(polls)
    # When the order is drawn at the opening
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    placed = sorted(tickets, key=lambda t: tickets_service.ticket(t).position or 0)
    # Then a later place is never read earlier: each band reads in its tenth of the 10 s, in the order
    # of the bands, so a page knows its place before serving (at most 250 a second) comes to it
    reads = [polls[t] for t in placed]
    assert reads == sorted(reads)
    assert all(polls[t] - (60 + order.GRACE_SECONDS + 2) == order.pre_band(t) for t in tickets)


def test_after_the_opening_the_line_follows_the_arrival_seconds(line: Any, clock: Clock) -> None:
    # Given a line open for a while, and people arriving 3 to a second for 5 seconds
    line()
    clock.at(OPENS + 30)
    sequencer.sequence_once()
    arrivals: list[tuple[int, str]] = []
    for second in range(5):
        for i in range(3):
            arrivals.append((second, join(100 + 3 * second + i).ticket))
        clock.passes(1)
    # When the closed seconds are sequenced
    clock.passes(order.GRACE_SECONDS + 1)
    sequence_all(clock)
    got = positions([t for _, t in arrivals])
    # Then positions 1..15, contiguous, and every one of a second ahead of every one of the next
    assert sorted(p for p in got if p is not None) == list(range(1, 16))
    by_second = [{p for (s, _), p in zip(arrivals, got, strict=True) if s == second} for second in range(5)]
    assert all(max(a) < min(b) for a, b in itertools.pairwise(by_second))  # type: ignore[type-var]


def test_positions_never_change_and_joining_again_keeps_the_ticket(line: Any, clock: Clock) -> None:
    # Given three people sequenced after the opening
    line()
    clock.at(OPENS + 30)
    first = [join(n).ticket for n in range(3)]
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    before = positions(first)
    # When more join, one of the first joins again, and rounds run
    again, created = tickets_service.join(JoinRequest(phone=phone(1)))
    for n in range(3, 8):
        join(n)
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    # Then the same ticket, the same position, and the first three unchanged
    assert not created and again.ticket == first[1] and again.position == before[1]
    assert positions(first) == before and sorted(p or 0 for p in before) == [1, 2, 3]


def test_a_ticket_whose_second_was_sequenced_without_it_joins_the_line_again_once(line: Any, clock: Clock) -> None:
    # Given a line where a second was sequenced, and a ticket of that second that landed afterwards
    st = line()
    clock.at(OPENS + 30)
    join(1)
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    late = order.new_ticket(math.floor(OPENS + 30), 0, phone_hash(phone(2), _keys()))
    st.queue.tickets[late.phone_key] = {"ticket": late.text, "qk": order.arrival_key(late.second, 0), "qs": late.second}
    # When its holder reads it, twice, and the next seconds are sequenced
    assert tickets_service.ticket(late.text).position is None
    assert tickets_service.ticket(late.text).position is None
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    # Then it has the next position, once; and the first keeps its own
    assert tickets_service.ticket(late.text).position == 2
    assert st.queue.tickets[late.phone_key]["moved_to"] > late.second
    assert sum(1 for b in st.queue.buckets.values() if late.digest in b.ids) == 1


def _joined_slowly(st: FakeStores, clock: Clock, n: int, round_sees_it: bool) -> str:
    """Phone n's ticket, from a join whose put comes back 3 s after its second ends; its round runs
    meanwhile, after the put reached the index (``round_sees_it``) or before."""
    put = st.queue.join

    def slow(*args: Any) -> Any:
        if not round_sees_it:
            clock.passes(3)
            sequence_all(clock)
        found = put(*args)
        if round_sees_it:
            clock.passes(3)
            sequence_all(clock)
        return found

    st.queue.join = slow  # type: ignore[method-assign]
    try:
        return join(n).ticket
    finally:
        del st.queue.join


def _joined_a_second_later(clock: Clock, n: int) -> str:
    """Phone n's ticket, joined a second later, and the rounds run to the present."""
    clock.passes(1)
    ticket = join(n).ticket
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    return ticket


@pytest.mark.parametrize("round_sees_it", [False, True])
def test_a_join_whose_put_comes_back_late_keeps_its_place_in_arrival_order(
    line: Any, clock: Clock, round_sees_it: bool
) -> None:
    # Given an open line with one person in it; then, in one second, a join that lands at once and
    # one whose put comes back 3 s after the second ends, its round run meanwhile
    st = line()
    clock.at(OPENS + 30.2)
    first = join(1).ticket
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    same_second = join(4).ticket
    slow = _joined_slowly(st, clock, 2, round_sees_it)
    # When someone joins in the next second, after that put came back, and the rounds run
    after = _joined_a_second_later(clock, 3)
    # Then the late join is ahead of the one received after it, each has one place, and there is no gap
    got = positions([first, same_second, slow, after])
    assert got[0] == 1 and got[3] == 4 and sorted(got[1:3]) == [2, 3]  # type: ignore[type-var]
    digest = order.digest_of(slow)
    assert sum(1 for b in st.queue.buckets.values() if digest in b.ids) == 1
    assert st.queue.current.total == 4


@pytest.mark.parametrize("round_sees_it", [False, True])
def test_a_pre_queue_join_whose_put_comes_back_after_the_opening_is_placed_once(
    line: Any, clock: Clock, round_sees_it: bool
) -> None:
    # Given one person in the pre-queue, and a join sent just before the opening whose put comes back
    # 3 s later, the opening's round run meanwhile (after the put reached the index, or before)
    st = line()
    clock.at(OPENS - 60)
    early = join(1).ticket
    clock.at(OPENS - 0.3)
    slow = _joined_slowly(st, clock, 2, round_sees_it)
    # When someone joins a second later and the rounds run
    after = _joined_a_second_later(clock, 3)
    # Then the late join is in the pre-queue if the opening saw it, else first after it; once either way
    got = positions([early, slow, after])
    assert sorted(got[:2]) == [1, 2] if round_sees_it else got[:2] == [1, 2]  # type: ignore[type-var]
    assert got[2] == 3 and st.queue.current.total == 3


def test_a_ticket_moved_between_two_reads_of_one_round_is_placed_once(line: Any, clock: Clock) -> None:
    # Given an open line, and a ticket of second s that moved to s + 2 while one round read them both
    # (its query of s before the move, its query of s + 2 after)
    st = line()
    clock.at(OPENS + 30.2)
    join(1)
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    s = math.floor(clock())
    moved = order.new_ticket(s, 0, phone_hash(phone(2), _keys()))
    st.queue.tickets[moved.phone_key] = {
        "ticket": moved.text,
        "qk": order.arrival_key(s + 2, 1),
        "qs": s + 2,
        "moved_to": s + 2,
        "moved_shard": 1,
    }
    arrivals = st.queue.arrivals

    def read_twice(keys: list[str]) -> dict[str, list[str]]:
        found = arrivals(keys)
        if order.arrival_key(s, 0) in keys:
            found[order.arrival_key(s, 0)] = [moved.text]
        return found

    st.queue.arrivals = read_twice  # type: ignore[method-assign]
    # When the round runs
    clock.passes(5)
    sequence_all(clock)
    # Then it has one place, in its own second's bucket
    assert [k for k, b in st.queue.buckets.items() if moved.digest in b.ids] == [f"{s}#0"]
    assert st.queue.current.total == 2 and tickets_service.ticket(moved.text).position == 2


def test_an_unknown_or_forged_ticket_is_not_found(line: Any, clock: Clock) -> None:
    # Given one real ticket, sequenced
    line()
    clock.at(OPENS + 30)
    real = order.parse_ticket(join(1).ticket)
    assert real is not None
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    # When its ID is changed to name another phone (its second, shard and random part kept), or is junk
    raw = bytearray(order._b64decode(real.text[2:]))
    raw[6] ^= 1
    forged = "q_" + order._b64(bytes(raw))
    # Then 404, as for an ID of the right shape that was never issued
    for text in (forged, order.new_ticket(real.second, 0, "cd" * 12).text, "q_nope", "r_" + real.text[2:]):
        with pytest.raises(NotFound):
            tickets_service.ticket(text)


# -- pace and admission ------------------------------------------------------------------------------------


def test_serving_advances_at_the_rate_with_a_step_at_least_every_5_seconds(line: Any, clock: Clock) -> None:
    # Given 40 people in line at 12 a minute
    line(ADMIT_PER_MINUTE="12")
    clock.at(OPENS - 60)
    for n in range(40):
        join(n)
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    state = waiting_line.state(clock(), fresh=True)
    # When time passes second by second / Then serving grows by one every 5 seconds, never backwards
    seen = [state.serving(OPENS + t) for t in range(0, 61)]
    assert seen[0] == 0 and seen[60] == 12
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(seen))
    assert all(seen[t + 5] > seen[t] for t in range(0, 55))


def test_an_admission_shown_from_a_container_s_cached_state_holds_when_the_pace_is_lowered(
    line: Any, clock: Clock
) -> None:
    # Given a line of 100 at 60 a minute, and a container that read the line half a second past 20 served
    line()
    clock.at(OPENS - 60)
    tickets = [join(n).ticket for n in range(100)]
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    twenty_first = next(t for t in tickets if tickets_service.ticket(t).position == 21)
    clock.at(OPENS + 20.5)
    tickets_service.overview()
    read_then = dict(waiting_line._cache)
    # When another container's admin pauses the line, and the first one shows a ticket from what it read
    admission.set_rate(0)
    waiting_line._cache.update(read_then)
    clock.passes(0.9)
    shown = tickets_service.ticket(twenty_first)
    assert shown.status == "admitted"
    # Then that admission stands for everybody afterwards: the same token, until the same time
    clock.passes(5)
    waiting_line.forget()
    again = tickets_service.ticket(twenty_first)
    assert (again.status, again.admission_token, again.admitted_until) == (
        "admitted",
        shown.admission_token,
        shown.admitted_until,
    )


def test_a_late_opening_admits_at_the_pace_not_at_once(line: Any, clock: Clock) -> None:
    # Given 100 people in the pre-queue at 60 a minute, and an opening round that runs 40 s late
    line()
    clock.at(OPENS - 60)
    for n in range(100):
        join(n)
    clock.at(OPENS + 40)
    sequencer.sequence_once()
    # When the line has opened / Then serving starts from at most REANCHOR_SECONDS of admissions, not 40 s of them
    assert waiting_line.state(clock(), fresh=True).opened
    assert tickets_service.overview().serving <= REANCHOR_SECONDS
    clock.passes(10)
    assert tickets_service.overview().serving <= REANCHOR_SECONDS + 10


def test_a_full_line_is_stopped_once_with_one_read_and_one_write(line: Any, clock: Clock) -> None:
    # Given an open line whose places are all taken
    st = line(primary=1, reserve=0)
    clock.at(OPENS - 60)
    join(0)
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    assert st.quota.take_primary()
    sequencer.check_full()
    stopped = st.queue.state()
    assert stopped.full and not waiting_line.serving_moves(stopped)
    # When the stop is asked again (each refused registration asks) / Then the state is not written again
    waiting_line.set_full()
    sequencer.check_full()
    assert st.queue.state().segments_version == stopped.segments_version


def test_a_person_is_admitted_when_serving_reaches_them_once_for_the_admission_minutes(line: Any, clock: Clock) -> None:
    # Given 30 people in the pre-queue, at 60 a minute, admissions good for 15 minutes
    line()
    clock.at(OPENS - 60)
    tickets = [join(n).ticket for n in range(30)]
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    views = {t: tickets_service.ticket(t) for t in tickets}
    last = max(views.values(), key=lambda v: v.position or 0)
    # When serving has not reached the last one / Then waiting, with the people ahead and the wait
    assert last.status == "waiting" and last.position == 30 and last.admission_token is None
    assert last.ahead == 30 - waiting_line.state(clock()).serving(clock())
    assert last.estimated_wait_s is not None and 25 <= last.estimated_wait_s <= 31
    # When it has / Then admitted, with a token for that phone valid until admitted_until
    clock.at(OPENS + 31)
    admitted = tickets_service.ticket(last.ticket)
    assert admitted.status == "admitted" and admitted.admission_token and admitted.admitted_until
    until = datetime.fromisoformat(admitted.admitted_until.replace("Z", "+00:00")).timestamp()
    assert until == pytest.approx(OPENS + 30 + 15 * 60, abs=1)
    n = tickets.index(last.ticket)
    admission.require_admitted(phone(n), admitted.admission_token)
    # And every read gives the same admission; after it, expired, and joining again changes nothing
    clock.at(OPENS + 600)
    assert tickets_service.ticket(last.ticket).admission_token == admitted.admission_token
    clock.at(until + 1)
    assert tickets_service.ticket(last.ticket).status == "expired"
    again, created = tickets_service.join(JoinRequest(phone=phone(n)))
    assert (again.ticket, again.status, created) == (last.ticket, "expired", False)
    with pytest.raises(AdmissionRequired):
        admission.require_admitted(phone(n), admitted.admission_token)


def test_a_new_rate_applies_from_where_serving_is(line: Any, clock: Clock) -> None:
    # Given a line of 100 at 60 a minute, 20 served
    line()
    clock.at(OPENS - 60)
    for n in range(100):
        join(n)
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    clock.at(OPENS + 20)
    assert tickets_service.overview().serving == 20
    # When the admin sets 600 a minute / Then serving goes on at 1 a second for the change's delay, then
    # at 10 a second from there
    delay = waiting_line.PACE_CHANGE_DELAY_SECONDS
    view = admission.set_rate(600)
    assert (view.admit_per_minute, view.serving) == (600, 20)
    clock.passes(delay + 3)
    assert tickets_service.overview().serving == 20 + delay + 30
    # And 0 pauses the line, once its delay has passed
    admission.set_rate(0)
    clock.passes(60)
    assert tickets_service.overview().serving == 20 + delay + 30 + 10 * delay


def test_people_joining_an_empty_line_are_still_admitted_at_the_pace(line: Any, clock: Clock) -> None:
    # Given a line open an hour with nobody in it (serving's formula far ahead of it)
    line(REGISTRATION_OPENS_AT="", ADMIT_PER_MINUTE="60")
    clock.at(OPENS)
    sequencer.sequence_once()
    clock.at(OPENS + 3600)
    sequence_all(clock)
    # When 30 arrive in one second
    tickets = [join(n).ticket for n in range(30)]
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    # Then they are admitted one a second from their sequencing, not all at once
    counts = []
    for _ in range(3):
        counts.append([tickets_service.ticket(t).status for t in tickets].count("admitted"))
        clock.passes(10)
    assert counts == [0, 10, 20]
    clock.passes(10)
    assert [tickets_service.ticket(t).status for t in tickets].count("admitted") == 30


def test_forged_expired_and_other_phone_admissions_are_refused(line: Any, clock: Clock) -> None:
    line()
    key = phone_hash(phone(1), _keys())
    good = sign_admission(key, math.floor(clock()) + 60, admission_key())
    admission.require_admitted(phone(1), good)
    refused = [
        None,
        "",
        good[:-2] + "xx",  # forged signature
        sign_admission(key, math.floor(clock()) - 1, admission_key()),  # expired
        sign_admission(key, math.floor(clock()) + 60, b"another key"),  # not ours
        good.replace(".", ". ", 1),
        "qa1." + key[:24] + ".99999999999." + good.split(".")[3],  # its own signature on another expiry
    ]
    for token in refused:
        with pytest.raises(AdmissionRequired):
            admission.require_admitted(phone(1), token)
    # Another phone's admission: refused for this phone
    with pytest.raises(AdmissionRequired):
        admission.require_admitted(phone(2), good)


# -- opening, full -----------------------------------------------------------------------------------------


def test_joining_before_the_queue_opens_is_refused(line: Any, clock: Clock) -> None:
    line(QUEUE_OPENS_MINUTES_BEFORE="30")
    clock.at(OPENS - 1801)
    with pytest.raises(QueueNotOpen):
        join(1)
    assert tickets_service.overview().status == "not_open"
    clock.at(OPENS - 1800)
    assert join(1).status == "waiting" and tickets_service.overview().status == "open"


def test_a_full_campaign_stops_the_line(line: Any, clock: Clock) -> None:
    # Given people waiting after the opening
    st = line(primary=1, reserve=0)
    clock.at(OPENS - 60)
    tickets = [join(n).ticket for n in range(5)]
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    # When the places are all taken (a counter took the last) and the sequencer looks
    assert st.quota.take_primary()
    sequencer.check_full()
    waiting_line.forget()
    # Then the line says full, waiting tickets say full, and joining is refused
    assert tickets_service.overview().status == "full"
    assert {tickets_service.ticket(t).status for t in tickets} <= {"full", "admitted"}
    assert "full" in {tickets_service.ticket(t).status for t in tickets}
    with pytest.raises(RegistrationFull):
        join(99)


def test_an_opening_slower_than_a_lease_keeps_the_line_while_it_writes(
    line: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pre-queue, and a store so slow that the opening's bucket writes take longer than a round's lease
    st = line()
    clock.at(OPENS - 60)
    for n in range(10):
        join(n)
    opening = OPENS + order.GRACE_SECONDS + 1
    clock.at(opening)
    put_bucket = st.queue.put_bucket
    late: list[sequencer.Outcome] = []

    def slow(key: str, bucket: Any) -> bool:
        clock.passes(0.1)
        if clock() > opening + rounds.LEASE_SECONDS + 1 and not late:
            late.append(sequencer.Outcome())  # once: the reader's own round writes through here too
            late[0] = sequencer.sequence_once()  # a reader finding the line late runs a round itself
        return put_bucket(key, bucket)

    monkeypatch.setattr(st.queue, "put_bucket", slow)
    # When the sequencer opens the line
    given = sequencer.sequence_once().given
    # Then the reader's round left the line to the opening's, which gave every position in one round
    assert late and late[0].given == 0
    assert (given, st.queue.state().opened, st.queue.state().round) == (10, True, 1)


def test_readers_of_a_late_line_run_one_round_at_a_time_in_a_container(
    line: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an open line whose sequencer is late, and a reader on one thread running a round for it
    line()
    clock.at(OPENS - 60)
    join(0)
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    clock.at(OPENS + sequencer.LAZY_BEHIND_SECONDS + 30)
    late = waiting_line.state(clock(), fresh=True)
    entered, finish = threading.Event(), threading.Event()
    rounds_run: list[float] = []

    def slow_round(now: float | None = None) -> sequencer.Outcome:
        rounds_run.append(clock())
        entered.set()
        assert finish.wait(10)
        return sequencer.Outcome()

    monkeypatch.setattr(sequencer, "sequence_once", slow_round)
    first = threading.Thread(target=sequencer.caught_up, args=(late, clock()))
    first.start()
    assert entered.wait(10)
    # When the container's other threads read the line meanwhile, LAZY_EVERY_SECONDS later too
    clock.passes(sequencer.LAZY_EVERY_SECONDS + 1)
    for _ in range(10):
        assert sequencer.caught_up(late, clock()) is late
    finish.set()
    first.join(10)
    # Then only the first ran a round; once it is done, the next reader may run one
    assert len(rounds_run) == 1
    sequencer.caught_up(late, clock())
    assert len(rounds_run) == 2


def test_a_full_line_admits_nobody_afterwards(line: Any, clock: Clock) -> None:
    # Given 30 people in the line at 60 a minute, and the places all taken 5 s after the opening
    st = line(primary=1, reserve=0)
    clock.at(OPENS - 60)
    tickets = [join(n).ticket for n in range(30)]
    clock.at(OPENS + order.GRACE_SECONDS + 1)
    sequencer.sequence_once()
    clock.at(OPENS + 5)
    assert st.quota.take_primary()
    sequencer.check_full()
    clock.passes(waiting_line.PACE_CHANGE_DELAY_SECONDS)
    waiting_line.forget()
    serving = tickets_service.overview().serving
    waiting = [t for t in tickets if tickets_service.ticket(t).status == "full"]
    # When the minutes pass in which serving would have reached every one of them, and an admin sets a pace
    clock.at(OPENS + 120)
    admission.set_rate(600)
    clock.at(OPENS + 600)
    waiting_line.forget()
    # Then serving stayed where the line stopped, and every ticket waiting then still says full, with no admission
    assert tickets_service.overview().serving == serving < len(tickets)
    assert waiting
    for t in waiting:
        view = tickets_service.ticket(t)
        assert (view.status, view.admission_token) == ("full", None)


def test_the_waiting_room_off_answers_not_found(campaign: Any) -> None:
    campaign(WAITING_ROOM="off")
    with pytest.raises(NotFound):
        tickets_service.join(JoinRequest(phone=phone(1)))
    with pytest.raises(NotFound):
        tickets_service.overview()
    admission.require_admitted(phone(1), None)  # registrations need no admission


# -- the sequencer's rounds ----------------------------------------------------------------------------------


def one_waiting_after_the_opening(line: Any, clock: Clock) -> FakeStores:
    """A line opened 30 s ago, one ticket in it, its second closed."""
    st: FakeStores = line()
    clock.at(OPENS + 30)
    sequencer.sequence_once()
    join(1)
    clock.passes(order.GRACE_SECONDS + 2)
    return st


def test_a_round_that_died_after_writing_buckets_is_taken_over_without_gaps(line: Any, clock: Clock) -> None:
    # Given a round that claimed the line, wrote a bucket for a ticket, then died before its commit
    st = one_waiting_after_the_opening(line, clock)
    with pytest.MonkeyPatch.context() as died, pytest.raises(SystemExit):
        died.setattr(rounds, "commit", raising(SystemExit("died")))
        sequencer.sequence_once()
    # And its ticket then left the index (as if that round had seen a join the next one does not)
    ghost = dict(st.queue.buckets)
    st.queue.tickets.clear()
    # When its lease has run out and the next round runs / Then it tombstones what the dead one
    # wrote: no position counts twice
    join(2)
    clock.passes(rounds.LEASE_SECONDS + 1)
    sequence_all(clock)
    assert ghost and all(not st.queue.buckets[k].ids for k in ghost)
    assert st.queue.current.total == 1 and not st.queue.current.dirty


def test_a_round_that_fails_frees_the_line_at_once_for_a_round_that_recovers(line: Any, clock: Clock) -> None:
    # Given a round refused by the store after its claim (a throttled bucket write)
    st = one_waiting_after_the_opening(line, clock)
    with pytest.MonkeyPatch.context() as throttled, pytest.raises(Overloaded):
        throttled.setattr(st.queue, "put_bucket", raising(Overloaded()))
        sequencer.sequence_once()
    # Then the line is free and marked for recovery, and the next round gives the position
    assert st.queue.current.dirty and not st.queue.current.claimed(clock())
    clock.passes(1)
    sequence_all(clock)
    assert positions([next(iter(st.queue.tickets.values()))["ticket"]]) == [1]
    assert not st.queue.current.dirty


def test_shards_widen_with_the_arrivals_and_narrow_back(line: Any, clock: Clock) -> None:
    # Given one shard key in use
    line(REGISTRATION_OPENS_AT="", QUEUE_SHARDS="8")
    clock.at(OPENS)
    sequencer.sequence_once()
    assert waiting_line.state(clock(), fresh=True).shards == 8
    # When a quiet minute passes / Then the shards halve every 30 s down to 1
    for i in range(200):
        clock.passes(1)
        join(10_000 + i)
        sequence_all(clock)
    assert waiting_line.state(clock(), fresh=True).shards == 1
    # When 600 arrive in one second / Then the next round widens to the most (600 / 250 x 2 -> 6)
    for n in range(600):
        join(n)
    clock.passes(order.GRACE_SECONDS + 2)
    sequence_all(clock)
    assert waiting_line.state(clock(), fresh=True).shards == 6


def _keys() -> Any:
    from chalicelib.config import verification_keys

    return verification_keys()


def test_the_settings_default_to_the_waiting_room_on_and_refuse_an_opening_without_its_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.config import DEFAULT_ADMIT_PER_MINUTE, get_settings

    for name in ("WAITING_ROOM", "REGISTRATION_OPENS_AT", "ADMIT_PER_MINUTE", "QUEUE_OPENS_MINUTES_BEFORE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        s = get_settings()
        assert (s.waiting_room, s.registration_opens_at, s.queue_opens_minutes_before) == (True, None, 30)
        assert (s.admit_per_minute, s.admission_minutes) == (DEFAULT_ADMIT_PER_MINUTE, 15)
        monkeypatch.setenv("REGISTRATION_OPENS_AT", "2026-12-20T09:00:00+07:00")
        get_settings.cache_clear()
        assert get_settings().registration_opens_at == OPENS
        for bad in ("2026-12-20T09:00:00", "tomorrow"):
            monkeypatch.setenv("REGISTRATION_OPENS_AT", bad)
            get_settings.cache_clear()
            with pytest.raises(RuntimeError, match="REGISTRATION_OPENS_AT"):
                get_settings()
    finally:
        get_settings.cache_clear()


def test_the_pre_queue_reads_its_places_spread_after_the_opening(line: Any, clock: Clock) -> None:
    # Given 1,000 counted in the pre-queue / When the tickets are read a minute before the opening
    polls = list(read_a_minute_before_the_opening(line, clock, 40, 1000).values())
    # Then each is asked again after the opening, spread over ~4 s a 1,000
    assert all(60 < p <= 60 + order.GRACE_SECONDS + 2 + 4 for p in polls)
    assert len(set(polls)) > 1


def test_an_opening_moved_before_it_happens_is_followed(
    line: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pre-queue for the opening at OPENS
    line()
    clock.at(OPENS - 600)
    early = join(1).ticket
    # When the opening is put off by an hour before it came
    from chalicelib.config import get_settings

    monkeypatch.setenv("REGISTRATION_OPENS_AT", datetime.fromtimestamp(OPENS + 3600, UTC).isoformat())
    get_settings.cache_clear()
    clock.at(OPENS + 10)
    sequence_all(clock)
    # Then the line has not opened at the old time, and opens at the new one, the early joiner first
    assert tickets_service.overview().opens_at == datetime.fromtimestamp(OPENS + 3600, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert tickets_service.ticket(early).position is None
    with pytest.raises(QueueNotOpen):
        join(2)  # the line closed again until 30 minutes before the new opening
    clock.at(OPENS + 3600 - 60)
    later = join(2).ticket
    clock.at(OPENS + 3600 + order.GRACE_SECONDS + 1)
    sequence_all(clock)
    assert sorted(positions([early, later])) == [1, 2]  # type: ignore[type-var]


def test_an_admin_rate_is_a_whole_number_as_json_schema_reads_one() -> None:
    from chalicelib.domain.queue.views import AdmitRate

    # Given the rates a generated client may send / Then 5000.0 is 5000, as JSON Schema's integer says
    assert AdmitRate.model_validate({"admit_per_minute": 5000.0}).admit_per_minute == 5000
    # And a string, a bool, a fraction or a rate out of range is refused
    for refused in ("5000", True, 5000.5, -1, 100_001.0):
        with pytest.raises(ValueError):
            AdmitRate.model_validate({"admit_per_minute": refused})
