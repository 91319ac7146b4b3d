"""The staff audit trail's and the reconciliation ledger's store contract, on the fake and on
DynamoDB: a day's staff actions paged oldest first with a cursor, the suppressed refusals of a
token's minute counted on one entry; a run's segments added once, its settling claimed once, and
the sightings a repair waits for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.domain.staff import SUPPRESSED_ACTION, AuditEntry, Role
from chalicelib.store.protocols import Stores
from tests.stores.conftest import Backend

DAY = "2026-07-06"
AT = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)

# -- the audit trail ----------------------------------------------------------------------------


def entry(seconds: int, action: str = "counter.register", status: int = 201, target: str | None = None) -> AuditEntry:
    return AuditEntry(
        at=AT + timedelta(seconds=seconds),
        token_id="t1",
        role=Role.COUNTER,
        label="desk 1",
        action=action,
        status=status,
        target=target,
    )


def test_a_days_trail_is_paged_oldest_first_with_a_cursor(stores: Stores) -> None:
    # Given five staff actions recorded out of order, and one on another day
    for s in (3, 1, 4, 0, 2):
        stores.staff.record(DAY, entry(s, target=f"r_{s}"))
    stores.staff.record("2026-07-07", entry(90_000))
    # When the day is read two at a time, each page after the cursor of the one before
    pages: list[list[AuditEntry]] = []
    after: str | None = None
    while True:
        page, after = stores.staff.audit_page(DAY, after, 2)
        pages.append(page)
        if after is None:
            break
    # Then every action comes once, oldest first, and the last page promises no other
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p] == [entry(s, target=f"r_{s}") for s in range(5)]
    # And a page that ends on the day's last entry says so; an empty day is one empty page
    assert stores.staff.audit_page(DAY, None, 5) == ([entry(s, target=f"r_{s}") for s in range(5)], None)
    assert stores.staff.audit_page("2026-07-08", None, 5) == ([], None)


def test_a_tokens_suppressed_refusals_of_a_minute_are_counted_on_one_entry(stores: Stores) -> None:
    # Given a refused call recorded, and the minute's further refusals suppressed (the first with a 403)
    stores.staff.record(DAY, entry(1, "admin.summary", 403))
    end = AT + timedelta(seconds=59.999999)
    stores.staff.count_suppressed(DAY, entry(0, SUPPRESSED_ACTION, 403, "r_1").model_copy(update={"at": end}))
    for status in (401, 403):
        stores.staff.count_suppressed(DAY, entry(0, SUPPRESSED_ACTION, status, "r_2").model_copy(update={"at": end}))
    # When the day is read
    page, after = stores.staff.audit_page(DAY, None, 10)
    # Then the suppressed entry sorts after the minute's own, with the first one's status, a count
    # and no target
    assert after is None and page[0] == entry(1, "admin.summary", 403)
    assert page[1:] == [entry(0, SUPPRESSED_ACTION, 403).model_copy(update={"at": end, "suppressed": 3})]


# -- the ledger ---------------------------------------------------------------------------------


def fields(run: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: run.get(name) for name in names}


def test_a_segment_is_added_to_its_run_once(stores: Stores) -> None:
    # Given a run of two segments
    stores.ledger.start_run("run-1", {"status": "running", "segments": 2})
    # When segment 0 is added twice (a duplicate delivery), then segment 1, and a segment of no run
    assert stores.ledger.add_segment("run-1", 0, {"leak": 1, "held_primary": 4}) == 1
    assert stores.ledger.add_segment("run-1", 0, {"leak": 1, "held_primary": 4}) is None
    assert stores.ledger.add_segment("run-1", 1, {"held_primary": 2}) == 2
    assert stores.ledger.add_segment("run-2", 0, {"leak": 1}) is None
    # Then the run has each segment's tally once
    run = stores.ledger.run("run-1")
    assert fields(run, "done_count", "done_segments", "t_leak", "t_held_primary") == {
        "done_count": 2,
        "done_segments": {0, 1},
        "t_leak": 1,
        "t_held_primary": 6,
    }
    assert stores.ledger.run("run-2") == {}


def test_a_run_is_settled_by_one_claim_once_every_segment_is_in(stores: Stores) -> None:
    stores.ledger.start_run("run-1", {"status": "running", "segments": 2})
    stores.ledger.add_segment("run-1", 0, {})
    # While a segment is missing, nobody settles it
    assert not stores.ledger.claim_finish("run-1", 2)
    stores.ledger.add_segment("run-1", 1, {})
    # Then one claim wins, the next finds it settling; a run that does not exist is never claimed
    assert stores.ledger.claim_finish("run-1", 2)
    assert not stores.ledger.claim_finish("run-1", 2)
    assert stores.ledger.run("run-1")["status"] == "settling"
    assert not stores.ledger.claim_finish("run-2", 0)


def clock(stores: Stores, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A function that sets the ledger's clock (epoch seconds) on either backend."""

    def at(now: int) -> None:
        if backend.kind == "fake":
            stores.ledger.now = now  # type: ignore[attr-defined]
        else:
            from chalicelib.store import ledger

            monkeypatch.setattr(ledger, "time", SimpleNamespace(time=lambda: now))

    return at


def test_a_leak_is_confirmed_when_seen_again_with_the_same_counters_after_the_wait(
    stores: Stores, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = clock(stores, backend, monkeypatch)
    # Given a leak of 2 seen with the counters at (taken 10, parked 1)
    at(1000)
    assert not stores.ledger.confirm_leak(2, 10, 1, 180)
    # When it is seen again before the wait is over / Then not yet (and the first sighting's time kept)
    at(1100)
    assert not stores.ledger.confirm_leak(2, 10, 1, 180)
    # When it is seen again larger than it was / Then not confirmed
    at(1200)
    assert not stores.ledger.confirm_leak(3, 10, 1, 180)
    # When it is seen again, as large or smaller, with the same counters after the wait / Then confirmed once
    assert stores.ledger.confirm_leak(1, 10, 1, 180)
    assert not stores.ledger.confirm_leak(1, 10, 1, 180)


def test_a_leak_seen_with_other_counters_is_a_new_sighting(
    stores: Stores, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = clock(stores, backend, monkeypatch)
    at(1000)
    stores.ledger.confirm_leak(2, 10, 1, 180)
    # When the counters moved meanwhile / Then a new sighting, whose wait starts now
    at(1200)
    assert not stores.ledger.confirm_leak(2, 11, 1, 180)
    at(1300)
    assert not stores.ledger.confirm_leak(2, 11, 1, 180)
    at(1380)
    assert stores.ledger.confirm_leak(2, 11, 1, 180)


def test_a_drift_is_confirmed_when_the_next_run_sees_the_same_fingerprint(stores: Stores) -> None:
    # Given a drift of a kind seen once
    assert not stores.ledger.confirm_sighting("stats", "a")
    # When the next run sees another fingerprint, then that one again / Then the second confirms it, once
    assert not stores.ledger.confirm_sighting("stats", "b")
    assert stores.ledger.confirm_sighting("stats", "b")
    assert not stores.ledger.confirm_sighting("stats", "b")
    # And kinds are their own
    assert not stores.ledger.confirm_sighting("reserve", "b")
