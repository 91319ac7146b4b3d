"""The campaign's exact-count checks: what the clients were answered, what the admin summary says
and what a full read of the registrations holds must agree with the plan, to the registration; and,
through the waiting room, the line's order, its admissions and its end (``line_checks``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench import line
from bench.clients import Outcomes
from bench.figures import removals_settled
from bench.line_run import DONE_OUTCOMES, Requests, Seen
from bench.workload import Plan


def expected(plan: Plan, distinct_people: int) -> tuple[int, int]:
    """(confirmed, reserve) once every attempt is answered: places fill in arrival order."""
    confirmed = min(plan.primary, distinct_people)
    reserve = min(plan.reserve, max(0, distinct_people - plan.primary))
    return confirmed, reserve


def exact_counts(
    plan: Plan,
    kinds: Counter[str],
    phones: int,
    tokens: int,
    out: Outcomes,
    summary: dict[str, Any],
    rows: list[dict[str, str]],
    exit_code: int,
) -> dict[str, bool]:
    """Each check by name, True when it held (``kinds``: the attempts by kind; ``tokens``: phones verified)."""
    expected_confirmed, expected_reserve = expected(plan, kinds["new"])
    statuses = Counter(out.status)
    codes = Counter(out.code)
    active = [r for r in rows if r["status"] in ("confirmed", "reserve")]
    by_status = Counter(r["status"] for r in rows)
    ids_active = Counter(r["national_id"] for r in active)
    accepted_ids = set(out.registration_ids)
    return {
        "confirmed_exact": summary["primary"]["used"] == expected_confirmed == by_status["confirmed"],
        "reserve_exact": summary["reserve"]["used"] == expected_reserve == by_status["reserve"],
        "accepted_responses_match_places": statuses[201] == expected_confirmed + expected_reserve,
        "every_accepted_registration_stored": accepted_ids == {r["registration_id"] for r in active},
        "nobody_twice": all(n == 1 for n in ids_active.values()),
        "no_5xx": not any(s >= 500 for s in statuses),
        "no_lost_connection": statuses[0] == 0,
        "every_error_in_envelope": codes["no_envelope"] == 0,
        "invalid_bodies_rejected_400": statuses[400] == kinds["invalid"],
        "underage_rejected_422": statuses[422] == kinds["underage"],
        "every_phone_verified_before_the_burst": tokens == phones,
        "no_phone_not_verified": codes["phone_not_verified"] == 0,
        # Households of at most 4 stay within the contract's limit of active registrations per phone.
        "no_phone_limit_reached": codes["phone_limit_reached"] == 0,
        "background_drained": removals_settled(summary) == expected_confirmed,
        "summary_counts_match": summary["registrations"]["by_status"]["confirmed"] == expected_confirmed
        and summary["registrations"]["by_status"]["reserve"] == expected_reserve,
        "server_stopped_cleanly": exit_code == 0,
    }


def line_checks(
    plan: Plan,
    seen: Seen,
    requests: Requests,
    probes: list[dict[str, Any]],
    summary: dict[str, Any],
    rows: list[dict[str, str]],
    last_status: str,
    confirmed_full: tuple[int, int],
) -> dict[str, bool]:
    """The waiting room's checks, each by name (``seen``: what the households saw; ``requests``: every
    line request; ``confirmed_full``: tickets read after the campaign, of which ``full``)."""
    refusals = [p for p in probes if p["probe"] != "join_again"]
    rejoins = [p for p in probes if p["probe"] == "join_again"]
    active_phones = {r.get("phone") or "" for r in rows if r["status"] in ("confirmed", "reserve")}
    polls = [(sent, answered, serving) for sent, answered, serving, _ in requests.polls]
    read, full = confirmed_full
    return {
        "admissions_in_position_order": line.admissions_in_order(requests.reads, polls),
        "prequeue_not_in_arrival_order": line.prequeue_shuffled(seen.prequeue)[0],
        "after_opening_positions_follow_arrival_seconds": line.follows_arrival_seconds(
            [p for _, p in seen.prequeue], seen.later
        ),
        # Without a token, with a forged one, with another phone's: 403; and every registration's phone admitted.
        "no_registration_without_admission": len(refusals) == 6
        and all(p["held"] for p in refusals)
        and active_phones <= seen.admitted_phones,
        # One ticket a phone (joining again gives it back), one position a ticket, never changed.
        "nobody_admitted_twice": len(set(seen.tickets)) == len(seen.tickets)
        and len(set(seen.positions)) == len(seen.positions)
        and not seen.position_changed
        and len(rejoins) == 2
        and all(p["held"] for p in rejoins),
        # An admitted household's token let its every attempt through to an answer on the registration.
        "every_admitted_household_registered": seen.admitted_not_registered == 0,
        "line_ends_full": last_status == "full"
        and summary["primary"]["used"] == plan.primary
        and summary["reserve"]["used"] == plan.reserve
        and set(seen.outcomes) <= set(DONE_OUTCOMES)
        and read > 0
        and full == read,
    }


def line_transport(requests: Requests) -> dict[str, bool]:
    """The existing transport checks over the line's requests too: no 5xx, no lost connection, every
    error in the envelope."""
    statuses = [s for counts in requests.status.values() for s in counts.elements()]
    return {
        "no_5xx": not any(s >= 500 for s in statuses),
        "no_lost_connection": 0 not in statuses,
        "every_error_in_envelope": requests.no_envelope == 0,
    }
