"""The campaign's exact-count checks: what the clients were answered, what the admin summary says
and what a full read of the registrations holds must agree with the plan, to the registration."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.clients import Outcomes
from bench.figures import removals_settled
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
