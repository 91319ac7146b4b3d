"""The ``Registrations`` contract (``store/protocols.py``), on the fake and on DynamoDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import rules
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import REGISTRIES, Channel, ConsentRecord, Registration, Status
from chalicelib.store.protocols import Registrations, Stores
from chalicelib.store.types import Taken
from tests.stores.people import DAY, START, booked, missed, person

NOW = START + timedelta(hours=1)
DETAILS = {
    "first_name": "สมหญิง",
    "last_name": "รักดี",
    "birth_date": "1985-02-01",
    "phone": "0899999999",
    "basis": "works_in_municipality",
    "detail": "ตลาด",
}


@pytest.fixture
def regs(stores: Stores) -> Registrations:
    return stores.registrations


def created(regs: Registrations, n: int, status: Status = Status.CONFIRMED, **changes: object) -> Registration:
    reg, pointer = person(n, status, **changes)  # type: ignore[arg-type]
    regs.create(reg, pointer, f"fp{n}")
    return reg


# -- the person's registration ------------------------------------------------------------------


def test_a_created_registration_is_the_persons_current_one_and_resolves_by_its_code(regs: Registrations) -> None:
    # Given a new registration
    reg, pointer = person(1)
    # When it is created with an Idempotency-Key fingerprint
    regs.create(reg, pointer, "fp1")
    # Then it is the person's current one, with the fingerprint, and its code resolves to it
    assert regs.current(pointer) == (reg, "fp1")
    assert regs.get(reg.registration_id) == reg
    assert regs.find(reg.registration_id) == reg


def test_nobody_is_found_for_an_unknown_code_a_malformed_one_or_a_new_person(regs: Registrations) -> None:
    # Given one registration
    reg = created(regs, 1)
    other, other_pointer = person(2)
    # When codes nobody has are looked up
    # Then there is nothing: not for a code with the same person's pointer and another secret either
    assert regs.current(other_pointer) is None
    assert regs.get(other.registration_id) is None
    assert regs.get("not-a-receipt-code") is None
    assert regs.get(rules.receipt_code(rules.code_pointer(reg.registration_id) or b"")) is None


def test_a_second_registration_of_a_registered_person_raises_taken_with_the_first(regs: Registrations) -> None:
    # Given a person registered with fingerprint fp1
    first = created(regs, 1)
    # When a new registration of the same person is created
    again, pointer = person(1)
    with pytest.raises(Taken) as taken:
        regs.create(again, pointer, "fp-other")
    # Then Taken carries the registration found and the fingerprint it was made with; it stands
    assert taken.value.current == first
    assert taken.value.fingerprint == "fp1"
    assert regs.current(pointer) == (first, "fp1")


@pytest.mark.parametrize("status", [Status.CONFIRMED, Status.RESERVE])
def test_a_reserve_registration_also_raises_taken(regs: Registrations, status: Status) -> None:
    # Given a person on the reserve (or confirmed)
    first = created(regs, 1, status)
    # When they register again
    again, pointer = person(1)
    # Then Taken
    with pytest.raises(Taken):
        regs.create(again, pointer, None)
    assert regs.get(first.registration_id) == first


def test_a_cancelled_registration_is_kept_under_its_code_and_replaced(regs: Registrations) -> None:
    # Given a person whose registration was cancelled
    first = created(regs, 1)
    cancelled = regs.cancel(first, NOW)
    # When the person registers again
    second, pointer = person(1)
    regs.create(second, pointer, None)
    # Then the new one is current, and the old code still resolves, to the old one, superseded
    assert regs.current(pointer) == (second, None)
    old = regs.get(first.registration_id)
    assert old is not None and old.archived and old.status is Status.CANCELLED
    assert old == cancelled.model_copy(update={"archived": True})


def test_withdraw_deletes_a_registration_unchanged_since_created(regs: Registrations) -> None:
    # Given a registration just created
    reg, pointer = person(1)
    regs.create(reg, pointer, None)
    # When it is withdrawn
    # Then it is gone: the person has none, its code resolves to nothing
    assert regs.withdraw(reg, pointer)
    assert regs.current(pointer) is None
    assert regs.get(reg.registration_id) is None


def test_withdraw_leaves_a_registration_that_changed_since(regs: Registrations) -> None:
    # Given a registration changed after it was created (its SMS marked)
    reg, pointer = person(1)
    regs.create(reg, pointer, None)
    assert regs.mark_sms(reg.registration_id, "k")
    # When it is withdrawn
    # Then it stands
    assert not regs.withdraw(reg, pointer)
    assert regs.get(reg.registration_id) is not None


def test_withdraw_leaves_another_registration_of_the_person(regs: Registrations) -> None:
    # Given a person's registration, and another code of the same person
    created(regs, 1)
    other, pointer = person(1)
    # When the other is withdrawn
    # Then nothing is deleted
    assert not regs.withdraw(other, pointer)
    assert regs.current(pointer) is not None


def test_withdraw_of_a_replacement_keeps_the_replaced_one_under_its_code(regs: Registrations) -> None:
    # Given a cancelled registration replaced by a new one
    first = created(regs, 1)
    regs.cancel(first, NOW)
    second, pointer = person(1)
    regs.create(second, pointer, None)
    # When the new one is withdrawn
    assert regs.withdraw(second, pointer)
    # Then the person has no current registration; the cancelled one still resolves
    assert regs.current(pointer) is None
    old = regs.get(first.registration_id)
    assert old is not None and old.status is Status.CANCELLED


# -- counter reclaim --------------------------------------------------------------------------


def test_a_reclaim_gives_the_registration_a_new_code_and_the_counter_persons_details(regs: Registrations) -> None:
    # Given a confirmed app registration
    reg = created(regs, 1)
    new_code = rules.receipt_code(rules.code_pointer(reg.registration_id) or b"")
    # When a counter reclaims it
    moved = regs.reclaim(reg, new_code, DETAILS, "desk 1", NOW)
    # Then it has the new code and details, the counter's channel and label; status and place stay
    assert moved.registration_id == new_code
    assert (moved.first_name, moved.phone, moved.detail) == ("สมหญิง", "0899999999", "ตลาด")
    assert moved.channel is Channel.COUNTER and moved.label == "desk 1"
    assert moved.status is Status.CONFIRMED and moved.removals == reg.removals
    assert moved.version == reg.version + 1
    # The new code resolves; the old one only for the service's jobs (find), to the new code
    assert regs.get(new_code) == moved
    assert regs.get(reg.registration_id) is None
    assert regs.find(reg.registration_id) == moved
    # And the Idempotency-Key of the request that made it no longer answers with it
    current = regs.current(person(1)[1])
    assert current is not None and current[1] is None


def test_every_code_reclaims_replaced_still_names_the_registration_for_the_jobs(regs: Registrations) -> None:
    # Given a registration reclaimed twice
    reg = created(regs, 1)
    pointer = rules.code_pointer(reg.registration_id) or b""
    second = regs.reclaim(reg, rules.receipt_code(pointer), DETAILS, "desk 1", NOW)
    third = regs.reclaim(second, rules.receipt_code(pointer), DETAILS, "desk 2", NOW)
    # When its first and second codes are followed
    # Then both name it under its last code, for the jobs only
    assert regs.find(reg.registration_id) == third
    assert regs.find(second.registration_id) == third
    assert regs.get(reg.registration_id) is None and regs.get(second.registration_id) is None
    assert [r.registration_id for r in regs.by_codes([reg.registration_id])] == [third.registration_id]


def test_a_reclaim_of_a_registration_changed_since_it_was_read_is_a_conflict(regs: Registrations) -> None:
    # Given a registration read, then changed (its SMS marked)
    reg = created(regs, 1)
    regs.mark_sms(reg.registration_id, "k")
    # When it is reclaimed as read
    # Then Conflict
    with pytest.raises(Conflict):
        regs.reclaim(reg, rules.receipt_code(rules.code_pointer(reg.registration_id) or b""), DETAILS, "d", NOW)


def test_a_cancelled_registration_cannot_be_reclaimed(regs: Registrations) -> None:
    reg = created(regs, 1)
    cancelled = regs.cancel(reg, NOW)
    with pytest.raises(Conflict):
        regs.reclaim(cancelled, rules.receipt_code(rules.code_pointer(reg.registration_id) or b""), DETAILS, "d", NOW)


def test_codes_a_reclaim_replaced_name_the_registration_in_batch_reads(regs: Registrations) -> None:
    # Given a reclaimed registration and another one
    reg = created(regs, 1)
    other = created(regs, 2)
    new_code = rules.receipt_code(rules.code_pointer(reg.registration_id) or b"")
    moved = regs.reclaim(reg, new_code, DETAILS, "desk", NOW)
    # When they are read by codes, the old code among them
    # Then the old code names the registration under its new code, once
    assert {r.registration_id for r in regs.by_codes([reg.registration_id, other.registration_id])} == {
        new_code,
        other.registration_id,
    }
    assert [r.registration_id for r in regs.get_many([reg.registration_id, new_code])] == [moved.registration_id]


# -- batch reads --------------------------------------------------------------------------------


def test_by_codes_gives_current_registrations_get_many_superseded_ones_too(regs: Registrations) -> None:
    # Given a superseded registration (cancelled, the person registered again) and a current one
    first = created(regs, 1)
    regs.cancel(first, NOW)
    second, pointer = person(1)
    regs.create(second, pointer, None)
    other = created(regs, 2)
    codes = [first.registration_id, second.registration_id, other.registration_id, "r_unknown"]
    # When they are read by codes (one twice, one unknown)
    # Then by_codes leaves the superseded one out; get_many gives each registration once
    assert {r.registration_id for r in regs.by_codes(codes)} == {second.registration_id, other.registration_id}
    many = regs.get_many([*codes, other.registration_id])
    assert sorted(r.registration_id for r in many) == sorted(codes[:3])
    assert next(r for r in many if r.registration_id == first.registration_id).archived


def test_page_and_scan_segment_give_every_registration_once(regs: Registrations) -> None:
    # Given five registrations, two of them on the reserve
    made = [created(regs, n, Status.RESERVE if n > 3 else Status.CONFIRMED) for n in range(1, 6)]
    # When they are paged two at a time, and scanned in two segments
    seen, cursor = [], None
    while True:
        page, cursor = regs.page(None, cursor, 2)
        seen += page
        if cursor is None:
            break
    scanned = []
    for segment in range(2):
        scan_cursor = None
        while True:
            found, scan_cursor = regs.scan_segment(segment, 2, scan_cursor, page=2)
            scanned += found
            if scan_cursor is None:
                break
    # Then each is found once either way, and a status filter keeps its own
    assert sorted(r.registration_id for r in seen) == sorted(r.registration_id for r in made)
    assert sorted(r.registration_id for r in scanned) == sorted(r.registration_id for r in made)
    reserve, _ = regs.page(Status.RESERVE, None, 10)
    assert sorted(r.registration_id for r in reserve) == sorted(r.registration_id for r in made[3:])


def test_pages_of_several_scans_give_every_registration_once(
    regs: Registrations, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 45 registrations, a third of them on the reserve, and scans of 10 items a call
    from chalicelib.store.registrations import scans

    made = [created(regs, n, Status.RESERVE if n % 3 == 0 else Status.CONFIRMED) for n in range(1, 46)]
    monkeypatch.setattr(scans, "SCAN_PAGE", 10)

    # When they are paged 25 at a time (the next scan asked for while one is read), and the reserve 4 at a time
    def every(status: Status | None, limit: int) -> list[list[str]]:
        pages, cursor = [], None
        while True:
            page, cursor = regs.page(status, cursor, limit)
            pages.append([r.registration_id for r in page])
            if cursor is None:
                return pages

    everyone = every(None, 25)
    reserve = every(Status.RESERVE, 4)
    # Then each is found once, every page but the last holds at least what was asked for, and the
    # reserve's pages hold the reserve's, once each
    assert len(everyone) >= 2 and all(len(p) >= 25 for p in everyone[:-1])
    assert sorted(c for p in everyone for c in p) == sorted(r.registration_id for r in made)
    on_reserve = [r.registration_id for r in made if r.status is Status.RESERVE]
    assert sorted(c for p in reserve for c in p) == sorted(on_reserve)
    assert all(len(p) >= 4 for p in reserve[:-1])


# -- cancel and its steps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "channel", "held", "todo"),
    [
        (Status.CONFIRMED, Channel.APP, "primary", ["counts", "phone"]),
        (Status.RESERVE, Channel.APP, "reserve", ["counts", "phone"]),
        (Status.CONFIRMED, Channel.COUNTER, "primary", ["counts"]),
    ],
)
def test_cancel_leaves_the_place_pending_release_and_lists_the_steps(
    regs: Registrations, status: Status, channel: Channel, held: str, todo: list[str]
) -> None:
    # Given a registration
    reg = created(regs, 1, status, channel=channel)
    # When it is cancelled
    cancelled = regs.cancel(reg, NOW)
    # Then it is cancelled, holding its place until it is released, with its steps to do
    assert cancelled.status is Status.CANCELLED
    assert cancelled.cancelled_at == NOW
    assert (cancelled.held, cancelled.release_pending, cancelled.todo) == (held, True, todo)
    assert cancelled.cancel_reason is None
    assert regs.get(reg.registration_id) == cancelled
    assert regs.pending_releases(NOW + timedelta(seconds=1)) == [reg.registration_id]
    assert regs.pending_releases(NOW) == []


def test_a_cancel_of_a_status_changed_since_read_is_a_conflict(regs: Registrations) -> None:
    # Given a reserve registration, read, then promoted
    reg = created(regs, 1, Status.RESERVE)
    regs.promote(reg.registration_id, "vacancy", NOW)
    # When it is cancelled as read
    # Then Conflict, and it stays confirmed
    with pytest.raises(Conflict):
        regs.cancel(reg, NOW)
    found = regs.get(reg.registration_id)
    assert found is not None and found.status is Status.CONFIRMED


def test_a_second_cancel_and_a_cancel_of_an_unknown_code_are_conflicts(regs: Registrations) -> None:
    reg = created(regs, 1)
    regs.cancel(reg, NOW)
    with pytest.raises(Conflict):
        regs.cancel(reg, NOW)
    with pytest.raises(Conflict):
        regs.cancel(person(2)[0], NOW)


def test_each_step_of_a_cancellation_is_taken_once(regs: Registrations) -> None:
    # Given a cancelled app registration (steps: counts, phone)
    reg = created(regs, 1)
    regs.cancel(reg, NOW)
    # When its steps are taken, twice
    # Then each is taken once, and the other stays listed
    assert regs.take_step(reg.registration_id, "counts")
    assert not regs.take_step(reg.registration_id, "counts")
    found = regs.get(reg.registration_id)
    assert found is not None and found.todo == ["phone"]
    assert regs.take_step(reg.registration_id, "phone")
    assert not regs.take_step(reg.registration_id, "unknown step")
    found = regs.get(reg.registration_id)
    assert found is not None and found.todo == []


def test_a_step_of_a_superseded_registration_is_still_taken_once(regs: Registrations) -> None:
    # Given a cancelled registration replaced by the person's new one
    first = created(regs, 1)
    regs.cancel(first, NOW)
    second, pointer = person(1)
    regs.create(second, pointer, None)
    # When its step is taken
    # Then once, on it (under its code), and the new one is untouched
    assert regs.take_step(first.registration_id, "counts")
    assert not regs.take_step(first.registration_id, "counts")
    assert regs.current(pointer) == (second, None)


# -- promotion and release ----------------------------------------------------------------------


def test_promote_confirms_a_reserve_registration_and_opens_its_removals(regs: Registrations) -> None:
    # Given a reserve registration
    reg = created(regs, 1, Status.RESERVE)
    # When it is promoted by a vacancy
    promoted = regs.promote(reg.registration_id, "vacancy-1", NOW)
    # Then it is confirmed, counted, with every removal pending and due, waiting for an appointment
    assert promoted.status is Status.CONFIRMED
    assert promoted.promoted_by == "vacancy-1"
    assert promoted.counted
    assert promoted.removals == dict.fromkeys(REGISTRIES, "pending")
    assert [r.registration_id for r in regs.due_removals(NOW, 10)] == [reg.registration_id]
    waiting, _ = regs.waiting_for_appointment(None, 10)
    assert [r.registration_id for r in waiting] == [reg.registration_id]
    # And a second promotion is a conflict
    with pytest.raises(Conflict):
        regs.promote(reg.registration_id, "vacancy-2", NOW)


def test_the_release_target_is_a_compare_and_set_on_a_pending_release(regs: Registrations) -> None:
    # Given a cancelled registration whose place is pending release
    reg = created(regs, 1)
    code = reg.registration_id
    regs.cancel(reg, NOW)
    # When targets are set, each expecting the one before
    regs.set_release_target(code, "r_a", None)
    # Then one set on a wrong expectation is a conflict
    with pytest.raises(Conflict):
        regs.set_release_target(code, "r_b", None)
    with pytest.raises(Conflict):
        regs.set_release_target(code, "r_b", "r_other")
    regs.set_release_target(code, "r_b", "r_a")
    found = regs.get(code)
    assert found is not None and found.release_target == "r_b"
    regs.set_release_target(code, None, "r_b")
    found = regs.get(code)
    assert found is not None and found.release_target is None


def test_no_release_target_on_a_registration_without_a_pending_release(regs: Registrations) -> None:
    reg = created(regs, 1)
    with pytest.raises(Conflict):
        regs.set_release_target(reg.registration_id, "r_a", None)


def test_finish_release_ends_the_pending_release_once_and_for_all(regs: Registrations) -> None:
    # Given a cancelled registration with a release target
    reg = created(regs, 1)
    regs.cancel(reg, NOW)
    regs.set_release_target(reg.registration_id, "r_a", None)
    # When its release is finished, twice, and one of a code nobody has
    regs.finish_release(reg.registration_id)
    regs.finish_release(reg.registration_id)
    regs.finish_release(person(2)[0].registration_id)
    # Then nothing is pending there any more
    found = regs.get(reg.registration_id)
    assert found is not None and not found.release_pending and found.release_target is None
    assert regs.pending_releases(NOW + timedelta(days=1)) == []


# -- appointments -------------------------------------------------------------------------------


def test_set_visits_is_a_compare_and_set_on_the_appointments_as_read(regs: Registrations) -> None:
    # Given a confirmed registration waiting for an appointment
    reg = created(regs, 1)
    waiting, _ = regs.waiting_for_appointment(None, 10)
    assert [r.registration_id for r in waiting] == [reg.registration_id]
    # When an appointment is given
    given = regs.set_visits(reg, [booked()])
    # Then it is the next appointment, counted in the revision, out of the waiting index and on the day
    assert given.visits == [booked()]
    assert given.appointment is not None and (given.appointment.date, given.appointment.site) == (DAY, "Hall")
    assert given.appt_rev == reg.appt_rev + 1
    assert regs.waiting_for_appointment(None, 10)[0] == []
    assert [r.registration_id for r in regs.appointments_on(DAY.isoformat())] == [reg.registration_id]
    assert regs.appointments_page(DAY.isoformat(), None, 10) == ([reg.registration_id], None)
    # And a write on the appointments as first read is a conflict
    with pytest.raises(Conflict):
        regs.set_visits(reg, [booked(site="Stadium")])


def test_set_visits_waiting_puts_it_back_in_the_allocation_index(regs: Registrations) -> None:
    reg = created(regs, 1)
    given = regs.set_visits(reg, [booked()])
    again = regs.set_visits(given, [missed()], waiting=True)
    assert again.appointment is None
    assert [r.registration_id for r in regs.waiting_for_appointment(None, 10)[0]] == [reg.registration_id]
    assert regs.appointments_on(DAY.isoformat()) == []


def test_the_appointment_indexes_page_in_order(regs: Registrations) -> None:
    # Given three confirmed registrations waiting, registered in this order, and two on one day
    made = [created(regs, n) for n in (3, 1, 2)]
    made.sort(key=lambda r: r.registered_at)
    on_the_day = [regs.set_visits(created(regs, n), [booked()]) for n in (4, 5)]
    # When the waiting ones are paged two at a time, and the day's one at a time
    first, cursor = regs.waiting_for_appointment(None, 2)
    second, end = regs.waiting_for_appointment(cursor, 2)
    on_day, day_cursor = regs.appointments_page(DAY.isoformat(), None, 1)
    rest, _ = regs.appointments_page(DAY.isoformat(), day_cursor, 5)
    # Then the waiting come in registration order, every one once
    assert [r.registration_id for r in first + second] == [r.registration_id for r in made]
    assert cursor is not None and end is None
    assert sorted(on_day + rest) == sorted(r.registration_id for r in on_the_day)


def test_visits_of_a_cancelled_registration_are_only_dropped(regs: Registrations) -> None:
    # Given a registration with an appointment, then cancelled
    reg = regs.set_visits(created(regs, 1), [booked()])
    cancelled = regs.cancel(reg, NOW)
    # When its visits are set, then dropped
    with pytest.raises(Conflict):
        regs.set_visits(cancelled, [booked()])
    dropped = regs.drop_visits(cancelled, [])
    # Then the drop succeeds once, and it has no appointment
    assert dropped.visits == [] and dropped.appointment is None
    with pytest.raises(Conflict):
        regs.drop_visits(cancelled, [])
    # And a confirmed registration's visits are not dropped
    with pytest.raises(Conflict):
        regs.drop_visits(created(regs, 2), [])


def test_cancel_no_show_cancels_as_cancel_does_with_its_reason(regs: Registrations) -> None:
    # Given two confirmed app registrations with an appointment
    one = regs.set_visits(created(regs, 1), [booked()])
    two = regs.set_visits(created(regs, 2), [booked()])
    # When one is cancelled and the other cancelled as a no-show
    cancelled = regs.cancel(one, NOW)
    no_show = regs.cancel_no_show(two, [missed()], NOW)
    # Then the no-show is cancelled as the cancel left the other, with its reason and visits
    fields = ("status", "cancelled_at", "held", "release_pending", "release_target", "todo")
    assert {f: getattr(no_show, f) for f in fields} == {f: getattr(cancelled, f) for f in fields}
    assert no_show.cancel_reason == "no_show"
    assert no_show.visits == [missed()] and no_show.appointment is None
    assert regs.get(two.registration_id) == no_show
    assert sorted(regs.pending_releases(NOW + timedelta(seconds=1))) == sorted(
        [one.registration_id, two.registration_id]
    )


def test_cancel_no_show_on_appointments_changed_since_is_a_conflict_and_changes_nothing(
    regs: Registrations,
) -> None:
    # Given a registration read, then given another appointment
    reg = created(regs, 1)
    given = regs.set_visits(reg, [booked()])
    # When it is cancelled as a no-show as first read
    with pytest.raises(Conflict):
        regs.cancel_no_show(reg, [missed()], NOW)
    # Then it is as it was, with no release pending
    assert regs.get(reg.registration_id) == given
    assert regs.pending_releases(NOW + timedelta(days=1)) == []


def test_an_appointment_sms_is_marked_once_per_appointment(regs: Registrations) -> None:
    reg = created(regs, 1)
    assert regs.mark_sms(reg.registration_id, "2026-08-01#Hall")
    assert not regs.mark_sms(reg.registration_id, "2026-08-01#Hall")
    assert regs.mark_sms(reg.registration_id, "2026-08-29#Hall")
    found = regs.get(reg.registration_id)
    assert found is not None and found.sms_sent_for == "2026-08-29#Hall"


# -- the removal outbox -------------------------------------------------------------------------


def test_a_confirmed_registration_is_due_for_removal_from_its_registration_time(regs: Registrations) -> None:
    # Given a confirmed registration (removals pending) and a reserve one (none)
    reg = created(regs, 1)
    created(regs, 2, Status.RESERVE)
    # Then only the confirmed one is due, from its registration time on
    assert regs.due_removals(reg.registered_at - timedelta(seconds=1), 10) == []
    assert [r.registration_id for r in regs.due_removals(NOW, 10)] == [reg.registration_id]
    assert [r.registration_id for r in regs.open_removals()] == [reg.registration_id]


def test_due_removals_come_oldest_first_up_to_the_limit(regs: Registrations) -> None:
    made = [created(regs, n) for n in (3, 1, 2)]
    due = regs.due_removals(NOW, 2)
    assert [r.registration_id for r in due] == [made[1].registration_id, made[2].registration_id]


# Enough registrations to fill every shard of the spread indexes (store/registrations/keys.py) more than once.
MANY = 40


def test_due_removals_come_oldest_first_across_the_whole_index(regs: Registrations) -> None:
    # Given many confirmed registrations, made out of their registration order
    made = sorted((created(regs, n) for n in reversed(range(1, MANY + 1))), key=lambda r: r.registered_at)
    # When the due ones are read a few at a time, and all of them
    # Then the oldest come first, and every one is due and open once
    assert [r.registration_id for r in regs.due_removals(NOW, 7)] == [r.registration_id for r in made[:7]]
    assert [r.registration_id for r in regs.due_removals(NOW, MANY)] == [r.registration_id for r in made]
    assert sorted(r.registration_id for r in regs.open_removals()) == sorted(r.registration_id for r in made)


def test_the_waiting_page_in_registration_order_across_the_whole_index(regs: Registrations) -> None:
    # Given many confirmed registrations waiting, made out of their registration order
    made = sorted((created(regs, n) for n in reversed(range(1, MANY + 1))), key=lambda r: r.registered_at)
    # When they are paged 7 at a time, some given an appointment between pages (they leave the index)
    seen: list[str] = []
    page, cursor = regs.waiting_for_appointment(None, 7)
    while True:
        seen += [r.registration_id for r in page]
        regs.set_visits(page[0], [booked()])
        if cursor is None:
            break
        page, cursor = regs.waiting_for_appointment(cursor, 7)
    # Then every one came once, in registration order, and the pages ended
    assert seen == [r.registration_id for r in made]


def test_pending_releases_come_oldest_first_across_the_whole_index(regs: Registrations) -> None:
    # Given many cancelled registrations, cancelled a second apart in reverse registration order
    made = [created(regs, n) for n in range(1, MANY + 1)]
    for i, reg in enumerate(reversed(made)):
        regs.cancel(reg, NOW + timedelta(seconds=i))
    # When the pending releases are read, a few and all
    # Then the oldest cancellations come first
    oldest = [r.registration_id for r in reversed(made)]
    assert regs.pending_releases(NOW + timedelta(days=1), limit=5) == oldest[:5]
    assert regs.pending_releases(NOW + timedelta(days=1), limit=MANY) == oldest


def test_record_removals_is_conditional_on_the_states_read(regs: Registrations) -> None:
    # Given a confirmed registration with its removals pending
    reg = created(regs, 1)
    states = dict.fromkeys(REGISTRIES, "removed")
    # When the sweep records the registries' answers, counted, done
    assert regs.record_removals(reg, states, None, True, {})
    # Then they are stored, it is counted and no longer due; the same record again changes nothing
    found = regs.get(reg.registration_id)
    assert found is not None and found.removals == states and found.counted
    assert regs.due_removals(NOW, 10) == [] and regs.open_removals() == []
    assert not regs.record_removals(reg, dict.fromkeys(REGISTRIES, "failed"), None, False, {})


def test_record_removals_keeps_a_failed_registry_due_with_its_tries(regs: Registrations) -> None:
    reg = created(regs, 1)
    first, second = REGISTRIES
    later = NOW + timedelta(minutes=5)
    assert regs.record_removals(reg, {first: "removed"}, later, False, {second: 1})
    found = regs.get(reg.registration_id)
    assert found is not None
    assert found.removals == {first: "removed", second: "pending"} and found.tries == {second: 1}
    assert regs.due_removals(NOW, 10) == []
    assert [r.registration_id for r in regs.due_removals(later, 10)] == [reg.registration_id]
    # counted once: a second count is refused
    assert regs.record_removals(found, {}, later, True, {})
    found = regs.get(reg.registration_id)
    assert found is not None and found.counted
    assert not regs.record_removals(found, {}, later, True, {})


def test_reopen_removal_puts_a_registry_back_to_pending_if_it_was_as_read(regs: Registrations) -> None:
    # Given a registration removed from every registry
    reg = created(regs, 1)
    regs.record_removals(reg, dict.fromkeys(REGISTRIES, "removed"), None, False, {})
    found = regs.get(reg.registration_id)
    assert found is not None
    registry = REGISTRIES[0]
    # When one registry is reopened, as removed, then as not_found
    assert regs.reopen_removal(found, registry, "removed")
    assert not regs.reopen_removal(found, registry, "removed")
    # Then it is pending there, and due again
    found = regs.get(reg.registration_id)
    assert found is not None and found.removals[registry] == "pending"
    assert [r.registration_id for r in regs.open_removals()] == [reg.registration_id]


def test_make_due_redrives_only_an_open_removal(regs: Registrations) -> None:
    # Given one registration with removals open, one done
    open_one = created(regs, 1)
    done = created(regs, 2)
    regs.record_removals(done, dict.fromkeys(REGISTRIES, "removed"), None, False, {})
    later = NOW + timedelta(hours=1)
    regs.record_removals(open_one, dict.fromkeys(REGISTRIES, "failed"), later, False, {})
    # When both are made due now
    # Then only the open one is, and it is due now
    assert regs.make_due(open_one, NOW)
    assert not regs.make_due(done, NOW)
    assert [r.registration_id for r in regs.due_removals(NOW, 10)] == [open_one.registration_id]


# -- erasure (contract v1.2) --------------------------------------------------------------------


def test_an_erasure_removes_every_personal_field_in_one_write_and_keeps_the_rest(regs: Registrations) -> None:
    # Given a cancelled registration with an appointment history and a consent record
    reg = created(regs, 1, consent=ConsentRecord(version="v1", at=START, channel=Channel.APP))
    cancelled = regs.cancel(regs.set_visits(reg, [missed()]), NOW)
    # When it is erased
    erased = regs.erase(cancelled, NOW)
    # Then its personal fields are gone, and it is marked erased; everything else stays
    assert erased.erased and erased.erased_at == NOW
    assert (erased.national_id, erased.first_name, erased.last_name, erased.phone, erased.detail) == ("",) * 5
    assert erased.birth_date is None
    kept = ("registration_id", "status", "channel", "registered_at", "basis", "visits", "removals", "consent")
    assert {k: getattr(erased, k) for k in kept} == {k: getattr(cancelled, k) for k in kept}
    assert regs.get(reg.registration_id) == erased
    # And the person's item no longer answers the Idempotency-Key of the request that made it
    current = regs.current(person(1)[1])
    assert current is not None and current[1] is None


def test_an_erasure_is_conditional_on_the_status_and_appointments_as_read(regs: Registrations) -> None:
    # Given a registration read, then given an appointment (a check-in would too), and one promoted
    reg = created(regs, 1)
    given = regs.set_visits(reg, [booked()])
    waiting = created(regs, 2, Status.RESERVE)
    promoted = regs.promote(waiting.registration_id, "vacancy", NOW)
    # When each is erased as first read, and one erased twice
    for stale in (reg, waiting):
        with pytest.raises(Conflict):
            regs.erase(stale, NOW)
    regs.erase(given, NOW)
    with pytest.raises(Conflict):
        regs.erase(given, NOW)
    # Then the stale ones changed nothing
    assert regs.get(waiting.registration_id) == promoted
    assert not promoted.erased


def test_a_cancel_for_an_erasure_refuses_appointments_changed_since_read(regs: Registrations) -> None:
    reg = created(regs, 1)
    given = regs.set_visits(reg, [booked()])
    with pytest.raises(Conflict):
        regs.cancel(reg, NOW, unchanged_visits=True)
    assert regs.get(reg.registration_id) == given
    assert regs.cancel(given, NOW, unchanged_visits=True).status is Status.CANCELLED


def test_a_superseded_registration_is_erased_under_its_code(regs: Registrations) -> None:
    # Given a cancelled registration superseded by the person's new one
    first = created(regs, 1)
    regs.cancel(first, NOW)
    second, pointer = person(1)
    regs.create(second, pointer, None)
    old = regs.get(first.registration_id)
    assert old is not None and old.archived
    # When the old one is erased
    regs.erase(old, NOW)
    # Then only it is: the new one keeps the person's fields
    gone = regs.get(first.registration_id)
    assert gone is not None and gone.erased and gone.national_id == ""
    assert regs.current(pointer) == (second, None)


def test_a_reclaim_records_the_counters_consent(regs: Registrations) -> None:
    reg = created(regs, 1)
    new_code = rules.receipt_code(rules.code_pointer(reg.registration_id) or b"")
    consent = ConsentRecord(version="v2", at=NOW, channel=Channel.COUNTER)
    moved = regs.reclaim(reg, new_code, DETAILS, "desk 1", NOW, consent)
    assert moved.consent == consent and moved.reclaimed_at == NOW
