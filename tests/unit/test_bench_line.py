"""The bench through the waiting room, its pure parts (``bench/line.py``, the households of
``bench/workload.py``, the line's checks): small made-up lines, no server, no clock."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bench import checks, line
from bench.line_run import forged
from bench.workload import Attempt, Plan, admitted_body, households, workload

OPENS = 1_000_000.0


def _attempt(kind: str, phone: str | None, n: int = 0) -> Attempt:
    return Attempt(json.dumps({"n": n}).encode(), kind, phone)


# Households.


def test_households_group_attempts_by_phone_in_order_of_first_arrival() -> None:
    # Given attempts of two phones interleaved, a repeat among them
    attempts = [
        _attempt("new", "0800000001", 0),
        _attempt("new", "0800000002", 1),
        _attempt("new", "0800000001", 2),
        _attempt("repeat", "0800000002", 1),
    ]
    # When they are grouped / Then each phone holds its attempts in arrival order, phones by first arrival
    assert [(h.phone, h.attempts) for h in households(attempts)] == [("0800000001", (0, 2)), ("0800000002", (1, 3))]


def test_an_invalid_body_goes_with_the_household_before_it_or_the_first_at_the_start() -> None:
    # Given invalid bodies (no phone) at the start and after the second phone's attempt
    attempts = [
        _attempt("invalid", None),
        _attempt("new", "0800000001"),
        _attempt("new", "0800000002"),
        _attempt("invalid", None),
        _attempt("new", "0800000001"),
    ]
    # When grouped
    groups = {h.phone: h.attempts for h in households(attempts)}
    # Then the first goes with the first household (before its own), the other with the second phone's
    assert groups == {"0800000001": (0, 1, 4), "0800000002": (2, 3)}


def test_the_workloads_households_hold_every_attempt_once_and_at_most_four_people() -> None:
    # Given the bench's own workload at a small size
    attempts = workload(Plan.of_size(3_000, 8))
    # When grouped
    groups = households(attempts)
    # Then every attempt is in exactly one household, one household a phone
    assert sorted(i for h in groups for i in h.attempts) == list(range(len(attempts)))
    assert len({h.phone for h in groups}) == len(groups) == len({a.phone for a in attempts if a.phone})
    # and no phone carries more than the contract's 4 people (repeats and invalid bodies are no one new)
    people = [sum(attempts[i].kind in ("new", "underage") for i in h.attempts) for h in groups]
    assert max(people) <= 4
    # and the phone of every attempt with one is its household's
    assert all(attempts[i].phone in (None, h.phone) for h in groups for i in h.attempts)


def test_an_admitted_body_carries_both_tokens_and_a_cut_off_body_goes_as_it_is() -> None:
    # Given a body with its verification token, one without, and one cut off mid-body
    with_token = json.dumps({"national_id": "1", "verification_token": "own"}).encode()
    without = json.dumps({"national_id": "2"}).encode()
    cut = b'{"national_id": "1101700230708", '
    # When the admitted page sends them / Then the admission token is added, the phone's token kept or added
    assert json.loads(admitted_body(with_token, "phone", "adm")) == {
        "national_id": "1",
        "verification_token": "own",
        "admission_token": "adm",
    }
    assert json.loads(admitted_body(without, "phone", None)) == {"national_id": "2", "verification_token": "phone"}
    assert admitted_body(cut, "phone", "adm") == cut


# The opening and the arrivals.


def test_the_opening_leaves_time_to_verify_and_join_and_the_queue_is_open_from_the_start() -> None:
    # Given 10,000 phones to verify, 6,000 of them joining before the opening
    opening = line.Opening.plan(10_000, 6_000, 25_000, now=OPENS)
    # Then the opening is a whole second after the verification's floor and the pre-queue's window
    assert opening.opens_at == int(opening.opens_at)
    assert opening.opens_at - OPENS >= 10_000 / line.VERIFY_FLOOR_PER_S + opening.prequeue_window_s
    assert opening.prequeue_window_s == 6_000 / line.JOIN_FLOOR_PER_S
    assert opening.queue_opens_minutes_before * 60 > opening.opens_at - OPENS
    # and the stack's settings say so, the instant in ISO 8601
    settings = opening.settings()
    assert settings["WAITING_ROOM"] == "on"
    assert datetime.fromisoformat(settings["REGISTRATION_OPENS_AT"]).timestamp() == opening.opens_at
    assert settings["ADMIT_PER_MINUTE"] == str(line.ADMIT_PER_MINUTE)


def test_an_opening_can_be_set_by_hand() -> None:
    opening = line.Opening.plan(10_000, 6_000, 25_000, now=OPENS, opens_in_s=40)
    assert opening.opens_at == OPENS + 40 + line.PREQUEUE_MARGIN_S


def test_the_prequeue_arrives_within_its_window_and_the_rest_after_the_opening() -> None:
    # Given an opening with a 20 s pre-queue window and 10 s of arrivals after it
    opening = line.Opening(int(OPENS), 20.0, 10.0, 5, 100)
    # When 5 households join before and 4 after
    times = line.join_times(5, 4, OPENS - 60, opening)
    # Then the first 5 are spread from the window's start to the margin before the opening, in order
    assert times[:5] == pytest.approx([OPENS - 20, OPENS - 15.5, OPENS - 11, OPENS - 6.5, OPENS - 2])
    # and the other 4 over the 10 s after it
    assert times[5:] == pytest.approx([OPENS, OPENS + 2.5, OPENS + 5, OPENS + 7.5])


def test_a_late_prequeue_is_compressed_into_the_time_left() -> None:
    # Given the pre-queue's phase starting 15 s into its 20 s window
    opening = line.Opening(int(OPENS), 20.0, 10.0, 5, 100)
    times = line.join_times(3, 0, OPENS - 5, opening)
    # Then its joins go from then to the margin before the opening
    assert times == pytest.approx([OPENS - 5, OPENS - 3.5, OPENS - 2])


# The polling schedule.


def test_an_answer_with_an_admission_token_sends_the_household_to_register_at_once() -> None:
    step = line.after_answer({"status": "admitted", "position": 3, "admission_token": "a"}, OPENS + 9, OPENS, 0.5)
    assert (step.action, step.at) == ("register", OPENS + 9)


@pytest.mark.parametrize("status", ["full", "expired", "closed"])
def test_a_ticket_that_cannot_be_admitted_any_more_ends_the_page(status: str) -> None:
    step = line.after_answer({"status": status, "position": 3}, OPENS + 9, OPENS, 0.5)
    assert (step.action, step.outcome) == ("done", status)


def test_a_prequeue_page_asks_for_its_position_only_after_the_opening_spread_by_its_draw() -> None:
    # Given a pre-queue join answered 60 s before the opening, no position yet, poll again in 5 s
    answer = {"status": "waiting", "position": None, "poll_after_s": 5}
    # When the page plans its next read / Then it waits for the opening's order, at its own moment
    early = line.after_answer(answer, OPENS - 60, OPENS, 0.0)
    late = line.after_answer(answer, OPENS - 60, OPENS, 1.0)
    assert (early.action, early.at) == ("read", OPENS + line.POSITION_SETTLE_S)
    assert late.at == OPENS + line.POSITION_SETTLE_S + line.OPENING_SPREAD_S


def test_a_page_honours_poll_after_s_when_it_asks_later_than_the_opening_would() -> None:
    answer = {"status": "waiting", "position": None, "poll_after_s": 30}
    assert line.after_answer(answer, OPENS - 1, OPENS, 0.0).at == OPENS - 1 + 30


def test_after_the_opening_a_page_without_a_position_asks_again_after_poll_after_s() -> None:
    step = line.after_answer({"status": "waiting", "position": None, "poll_after_s": 3}, OPENS + 10, OPENS, 0.9)
    assert (step.action, step.at) == ("read", OPENS + 13)


@pytest.mark.parametrize("poll_after_s", [4, 60, 0, None])
def test_a_page_with_its_position_watches_the_shared_status_as_the_public_page_does(poll_after_s: Any) -> None:
    # Given a waiting ticket with its position, whatever its poll_after_s (the time to its own next read)
    step = line.after_answer({"status": "waiting", "position": 40, "poll_after_s": poll_after_s}, OPENS, OPENS, 0)
    # Then the page watches the shared status every LINE_POLL_S (line.js's LINE_MS)
    assert (step.action, step.at, step.period) == ("wait", OPENS, line.LINE_POLL_S)


def test_a_page_sees_serving_at_its_next_poll_and_counts_its_polls() -> None:
    # Given a page polling every 4 s from t=100
    # When the shared cache gets a serving past it at t=109 / Then the page sees it at t=112, its 3rd poll
    assert line.notice(100.0, 4.0, 109.0) == (112.0, 3)
    # and a value already there (or got exactly at a poll) is seen at the next poll, at least one
    assert line.notice(100.0, 4.0, 90.0) == (104.0, 1)
    assert line.notice(100.0, 4.0, 108.0) == (108.0, 2)


# The order checks.


def test_a_random_prequeue_is_not_in_arrival_order_and_an_ordered_one_is() -> None:
    # Given 200 pre-queue joins a tenth of a second apart
    sent = [OPENS - 30 + i / 10 for i in range(200)]
    shuffled = list(range(1, 201))
    random.Random(3).shuffle(shuffled)
    # When the positions are a random order / Then the check holds, the correlation near 0
    held, rho = line.prequeue_shuffled(list(zip(sent, shuffled, strict=True)))
    assert held and abs(rho) < 0.2
    # When they follow arrival (or its reverse) / Then it fails
    assert not line.prequeue_shuffled(list(zip(sent, range(1, 201), strict=True)))[0]
    assert not line.prequeue_shuffled(list(zip(sent, range(200, 0, -1), strict=True)))[0]


def test_a_prequeue_too_small_to_tell_fails() -> None:
    assert line.prequeue_shuffled([(OPENS - 1 - i, i + 1) for i in range(line.MIN_SAMPLE - 1)]) == (
        False,
        pytest.approx(float("nan"), nan_ok=True),
    )


def test_rank_correlation_shares_ranks_among_ties() -> None:
    assert line.ranks([10.0, 20.0, 10.0, 30.0]) == [1.5, 3.0, 1.5, 4.0]
    assert line.rank_correlation([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)


def _later(seconds_and_positions: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """(sent, answered, position) joins, padded with MIN_SAMPLE in-order joins long after them."""
    tail = [(OPENS + 100 + k, OPENS + 100.1 + k, 1000 + k) for k in range(line.MIN_SAMPLE)]
    return seconds_and_positions + tail


def test_later_arrivals_in_order_of_their_second_hold_in_any_order_within_a_second() -> None:
    # Given joins received in second 0 (two, positions in either order) then second 1, behind a pre-queue of 10
    joins = [(OPENS + 0.1, OPENS + 0.2, 12), (OPENS + 0.3, OPENS + 0.4, 11), (OPENS + 1.2, OPENS + 1.3, 13)]
    # Then the order holds
    assert line.follows_arrival_seconds(range(1, 11), _later(joins))


def test_a_later_arrival_ahead_of_one_from_an_earlier_second_fails() -> None:
    # Given a join answered in second 0 placed behind one sent in second 2
    joins = [(OPENS + 2.1, OPENS + 2.2, 11), (OPENS + 0.1, OPENS + 0.2, 12)]
    assert not line.follows_arrival_seconds(range(1, 11), _later(joins))


def test_a_join_in_flight_across_a_second_may_count_in_either() -> None:
    # Given a join sent in second 0 but answered in second 1: it may have been received in second 1
    joins = [(OPENS + 1.1, OPENS + 1.2, 11), (OPENS + 0.9, OPENS + 1.05, 12)]
    assert line.follows_arrival_seconds(range(1, 11), _later(joins))


def test_a_later_arrival_ahead_of_the_prequeue_fails() -> None:
    joins = [(OPENS + 0.1, OPENS + 0.2, 5)]
    assert not line.follows_arrival_seconds([1, 2, 3, 4, 6], _later(joins))


def test_too_few_later_arrivals_to_tell_fails() -> None:
    assert not line.follows_arrival_seconds([1], [(OPENS + 1, OPENS + 1.1, 2)])


def _reads(*rows: tuple[float, int, str]) -> list[tuple[float, float, int, str]]:
    """Ticket answers (sent at t, answered 0.1 s later)."""
    return [(t, t + 0.1, pos, st) for t, pos, st in rows]


def test_admissions_in_position_order_hold() -> None:
    # Given positions 1-2 admitted at t=10, 3 waiting then admitted once serving reached it
    reads = _reads((10, 1, "admitted"), (10, 2, "admitted"), (10, 3, "waiting"), (20, 3, "admitted"))
    polls = [(9.0, 9.1, 2), (19.0, 19.1, 3), (30.0, 30.1, 3)]
    assert line.admissions_in_order(reads, polls)


def test_a_lower_position_still_waiting_after_a_higher_one_was_admitted_fails() -> None:
    reads = _reads((10, 5, "admitted"), (15, 4, "waiting"))
    assert not line.admissions_in_order(reads, [])


def test_a_position_still_waiting_after_serving_reached_it_fails() -> None:
    reads = _reads((10, 1, "admitted"), (15, 4, "waiting"))
    assert not line.admissions_in_order(reads, [(11.0, 11.1, 4)])


def test_an_admission_before_serving_reached_it_fails() -> None:
    # Given position 9 admitted at t=10 while the status asked for at t=15 still serves 5
    reads = _reads((10, 9, "admitted"))
    assert not line.admissions_in_order(reads, [(15.0, 15.1, 5)])


def test_answers_closer_than_a_stale_serving_are_not_judged() -> None:
    # Given a higher position admitted a second before a lower one reads waiting (a cached serving)
    reads = _reads((10, 5, "admitted"), (11, 4, "waiting"))
    assert line.admissions_in_order(reads, [(10.5, 10.6, 3)])


def test_admission_order_with_nobody_admitted_fails() -> None:
    assert not line.admissions_in_order(_reads((10, 1, "waiting")), [])


# The line's checks together, on a made-up campaign of 3 households.


def _line_campaign(**changes: Any) -> dict[str, Any]:
    prequeue = [(OPENS - 30 + i, p) for i, p in enumerate(random.Random(5).sample(range(1, 41), 40))]
    later = [(OPENS + 1 + i, OPENS + 1.1 + i, 41 + i) for i in range(40)]
    reads = _reads((OPENS + 3, 1, "admitted"), (OPENS + 3, 2, "waiting"), (OPENS + 9, 2, "admitted"))
    seen = SimpleNamespace(
        prequeue=prequeue,
        later=later,
        tickets=[f"q_{p}" for p in range(1, 81)],
        positions=list(range(1, 81)),
        position_changed=False,
        outcomes=Counter({"registered": 2, "full": 78}),
        admitted_phones={"0800000001", "0800000002"},
        admitted_not_registered=0,
    )
    probes = [{"probe": "no_admission_token", "held": True}] * 6 + [{"probe": "join_again", "held": True}] * 2
    args: dict[str, Any] = {
        "plan": Plan(attempts=10, primary=2, reserve=1, clients=1),
        "seen": seen,
        "requests": SimpleNamespace(reads=reads, polls=[(OPENS + 2, OPENS + 2.1, 1, "open")]),
        "probes": probes,
        "summary": {"primary": {"used": 2}, "reserve": {"used": 1}},
        "rows": [
            {"status": "confirmed", "phone": "0800000001"},
            {"status": "reserve", "phone": "0800000002"},
            {"status": "cancelled", "phone": "0899999999"},
        ],
        "last_status": "full",
        "confirmed_full": (5, 5),
    }
    args.update(changes)
    return args


def test_a_line_that_went_as_the_contract_says_passes_every_line_check() -> None:
    held = checks.line_checks(**_line_campaign())
    assert held == dict.fromkeys(held, True)
    assert len(held) == 7


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"last_status": "open"}, "line_ends_full"),
        ({"summary": {"primary": {"used": 2}, "reserve": {"used": 0}}}, "line_ends_full"),
        ({"confirmed_full": (5, 4)}, "line_ends_full"),
        ({"probes": [{"probe": "no_admission_token", "held": False}] * 6}, "no_registration_without_admission"),
        ({"rows": [{"status": "confirmed", "phone": "0800000009"}]}, "no_registration_without_admission"),
    ],
)
def test_each_line_check_fails_on_what_it_guards(change: dict[str, Any], failed: str) -> None:
    held = checks.line_checks(**_line_campaign(**change))
    assert not held[failed]


def test_a_ticket_given_twice_or_a_moved_position_fails_nobody_admitted_twice() -> None:
    twice = _line_campaign()
    twice["seen"].tickets = ["q_1", "q_1"]
    moved = _line_campaign()
    moved["seen"].position_changed = True
    assert not checks.line_checks(**twice)["nobody_admitted_twice"]
    assert not checks.line_checks(**moved)["nobody_admitted_twice"]


# Figures read from elsewhere.


def test_the_lines_aws_requests_per_household_come_from_the_meter_and_are_none_without_it() -> None:
    paths = {
        "queue_join": {"requests": 10, "aws_requests_per_request": 2.0},
        "queue_ticket": {"requests": 15, "aws_requests_per_request": 1.0},
        "queue_admission": {"requests": 8, "aws_requests_per_request": 1.0},
        "queue_status": {"requests": 4, "aws_requests_per_request": 0.5},
        "confirmed": {"requests": 20, "aws_requests_per_request": 2.1},
    }
    figures = line.aws_per_phone(paths, 10)
    assert figures is not None
    assert figures["per_phone"] == {"join": 2.0, "ticket": 1.5, "admission": 0.8, "status": 0.2, "line": 4.5}
    assert line.aws_per_phone({"confirmed": paths["confirmed"]}, 10) is None


def test_the_pace_follows_what_the_stack_completes_towards_a_backlog_per_client() -> None:
    target = line.PACE_BACKLOG * 10
    # Given a stack completing 20 households a second with the backlog at its target / Then that pace
    assert line.pace(20.0, target, clients=10) == 1_200
    # Given a backlog above its target / Then slower, to drain it within PACE_SETTLE_S
    assert line.pace(20.0, target + 50, clients=10) == round((20 - 50 / line.PACE_SETTLE_S) * 60)
    # Given an empty backlog at the opening / Then faster, to fill it
    assert line.pace(0.0, 0, clients=100) == round(line.PACE_BACKLOG * 100 / line.PACE_SETTLE_S * 60)
    # Given a stack far faster, or stalled with a long backlog / Then within the bench's cap and floor
    assert line.pace(1_000.0, 0, clients=10) == line.ADMIT_PER_MINUTE
    assert line.pace(0.0, 10_000, clients=10) == line.PACE_FLOOR


def test_the_admin_keeps_the_pace_until_households_complete_and_while_the_pre_queue_finds_out() -> None:
    clients, short, long_ = 10, line.PACE_BACKLOG * 10, line.PACE_BACKLOG * 10 + 1
    # Given fewer households done than clients since the opening / Then the pace stays, up or down
    assert line.pace_held(600, 4_200, 9, long_, clients, finding_out=False)
    assert line.pace_held(4_200, 600, 0, 0, clients, finding_out=False)
    # Given the pre-queue still finding out its places / Then no slower while the backlog is short
    assert line.pace_held(600, 4_200, 50, short, clients, finding_out=True)
    assert not line.pace_held(600, 4_200, 50, long_, clients, finding_out=True)
    assert not line.pace_held(4_200, 600, 50, short, clients, finding_out=True)
    # Given households completing and the pre-queue placed / Then the pace follows what pace() says
    assert not line.pace_held(600, 4_200, 50, short, clients, finding_out=False)


def test_the_busiest_key_is_read_from_the_key_table_with_the_lines_own() -> None:
    # Given no write counted / Then no figure
    assert line.busiest_key({"writes": []}, "queue") is None
    # Given a key table whose busiest key is not the line's
    row = {"index": None, "busiest_writes": 40, "peak_writes_per_s": 9, "busiest_writes_per_confirmation": 0.04}
    keys = {
        "partition_write_limit_per_s": 1_000,
        "writes": [
            {
                **row,
                "table": "campaign",
                "pattern": "gate",
                "busiest_key": "gate",
                "busiest_writes_per_confirmation": 0.2,
            },
            {**row, "table": "queue", "pattern": "state", "busiest_key": "state"},
        ],
        "busiest_write_key": {"table": "campaign", "pattern": "gate", "writes_per_confirmation": 0.2},
        "ceiling_confirmations_per_s": 5_000.0,
    }
    found = line.busiest_key(keys, "queue")
    # Then the run's busiest key and ceiling, and the line's busiest with 1,000 writes/s over it
    assert found is not None
    assert (found["pattern"], found["ceiling_confirmations_per_s"]) == ("gate", 5_000.0)
    assert found["busiest_of_the_line"]["pattern"] == "state"
    assert found["busiest_of_the_line"]["ceiling_confirmations_per_s"] == pytest.approx(25_000)


def test_a_forged_admission_token_differs_in_one_character() -> None:
    token = "v1.abcdef.123456.signature"
    fake = forged(token)
    assert len(fake) == len(token) and sum(a != b for a, b in zip(fake, token, strict=True)) == 1
