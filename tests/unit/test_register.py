"""Register: which place a request gets, or why it is refused (services.registrations, in-memory stores)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chalicelib.domain import rules
from chalicelib.domain.errors import (
    AlreadyRegistered,
    ChannelClosed,
    IdempotencyKeyReused,
    NotEligible,
    Overloaded,
    RegistrationFull,
)
from chalicelib.domain.models import Channel, Status
from chalicelib.services import campaign as campaign_service
from chalicelib.services import cancellations, lookups, promotion, registrations
from tests.helpers import body
from tests.unit.fakes import FakeStores
from tests.unit.steps import BIRTH, register, release_all, request


def keyed(n: int, key: str, **changes: Any) -> str:
    return rules.idempotency_fingerprint("app", key, body(n, **changes))


def test_a_newcomer_gets_a_confirmed_place_while_the_primary_list_has_room(campaign: Any) -> None:
    # Given an empty campaign of 2 primary places
    st = campaign(primary=2, reserve=2)
    # When a person registers
    view = register(1)
    # Then they are confirmed, with no rank, and one place is taken
    assert view.status is Status.CONFIRMED and view.reserve_rank is None
    assert st.quota.counts().primary_used == 1


def test_a_confirmed_registration_is_stored_with_both_removals_pending(campaign: Any) -> None:
    # Given an empty campaign / When a person registers
    st = campaign()
    view = register(1)
    # Then the stored registration waits for removal from both registries and for an appointment
    stored = st.registrations.get(view.registration_id)
    assert stored is not None and stored.removals == {"mor_phrom": "pending", "khon_kaen_phrom": "pending"}
    assert view.registration_id in st.registrations.removal_due
    assert view.registration_id in st.registrations.waiting


def test_once_the_primary_list_is_full_a_newcomer_joins_the_reserve_at_rank_1(campaign: Any) -> None:
    # Given a campaign whose one primary place is taken
    campaign(primary=1, reserve=2)
    register(1)
    # When another person registers
    view = register(2)
    # Then they are on the reserve, rank 1
    assert view.status is Status.RESERVE and view.reserve_rank == 1


def test_reserve_ranks_follow_the_order_of_arrival(campaign: Any) -> None:
    # Given a full primary list
    campaign(primary=1, reserve=3)
    register(1)
    # When three more people register / Then their ranks are 1, 2, 3
    assert [register(n).reserve_rank for n in (2, 3, 4)] == [1, 2, 3]


def test_the_reserve_ticket_names_its_registration(campaign: Any) -> None:
    # Given a full primary list / When a person joins the reserve
    st = campaign(primary=1, reserve=1)
    register(1)
    view = register(2)
    # Then the ticket's holder is their registration
    stored = st.registrations.get(view.registration_id)
    assert stored is not None and stored.ticket == 1
    assert st.reserve.ticket(1).registration_id == view.registration_id


def test_a_reserve_entry_is_counted_in_the_gate_write(campaign: Any) -> None:
    # Given a full primary list / When a person joins the reserve
    st = campaign(primary=1, reserve=1)
    register(1)
    register(2)
    # Then the statistics count it (and not the direct confirmation: the removal sweep counts that)
    stats = st.statistics.stats()
    assert stats["status_reserve"] == 1 and stats["channel_app"] == 1
    assert "status_confirmed" not in stats


def test_when_both_lists_are_full_a_newcomer_is_refused(campaign: Any) -> None:
    # Given a campaign with every place taken
    st = campaign(primary=1, reserve=1)
    register(1)
    register(2)
    # When a third person registers / Then registration_full, and no place or ticket moved
    with pytest.raises(RegistrationFull):
        register(3)
    counts = st.quota.counts()
    assert (counts.primary_taken, counts.reserve_active, counts.reserve_seq) == (1, 1, 1)


def test_a_container_that_saw_full_refuses_the_next_newcomer_without_asking_the_gate(campaign: Any) -> None:
    # Given a campaign found full a moment ago
    st = campaign(primary=1, reserve=1)
    register(1)
    register(2)
    with pytest.raises(RegistrationFull):
        register(3)
    # When another newcomer asks, with the gate itself made to fail
    st.quota.take_overflow = _unreachable  # type: ignore[method-assign]
    # Then they are refused all the same
    with pytest.raises(RegistrationFull):
        register(4)


def _unreachable(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the gate was asked")


def test_a_registered_person_is_refused_without_taking_a_place(campaign: Any) -> None:
    # Given a registered person, and no place in hand
    st = campaign(primary=3, reserve=1)
    register(1)
    # When they register again / Then refused, and no place was taken for the attempt
    with pytest.raises(AlreadyRegistered):
        register(1)
    assert st.quota.taken == 1 and st.quota.in_hand == 0


def test_a_place_in_hand_taken_for_a_repeat_goes_to_the_next_newcomer(campaign: Any) -> None:
    # Given a registered person, and a place this container holds in hand
    st = campaign(primary=3, reserve=1)
    register(1)
    st.quota.keep()
    # When they register again / Then refused, and the place stays in hand
    with pytest.raises(AlreadyRegistered):
        register(1)
    assert st.quota.in_hand == 1
    # When a newcomer registers / Then they get it, and no shard is written
    register(2)
    assert st.quota.in_hand == 0 and st.quota.taken == 1


def test_a_registered_person_is_refused_without_a_ticket_once_the_primary_list_is_full(campaign: Any) -> None:
    # Given a full primary list and its one confirmed person
    st = campaign(primary=1, reserve=2)
    register(1)
    # When that person registers again / Then refused, and no reserve ticket was taken for them
    with pytest.raises(AlreadyRegistered):
        register(1)
    assert st.gate.seq == 0


def test_a_person_on_the_reserve_is_refused_a_second_registration(campaign: Any) -> None:
    # Given a person on the reserve
    st = campaign(primary=1, reserve=2)
    register(1)
    register(2)
    # When they register again / Then refused, and the reserve still holds one
    with pytest.raises(AlreadyRegistered):
        register(2, first_name="อื่น")
    assert st.quota.counts().reserve_active == 1


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(campaign: Any) -> None:
    # Given a registration made with an Idempotency-Key
    campaign()
    first = registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k1"))
    # When the same request is sent again with the same key
    again = registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k1"))
    # Then it gets the same registration
    assert again.registration_id == first.registration_id and again.status is Status.CONFIRMED


def test_a_replay_answers_the_reserve_rank_it_was_given_even_after_a_promotion(campaign: Any) -> None:
    # Given a keyed reserve registration, since promoted
    st = campaign(primary=1, reserve=2)
    x = register(1)
    first = registrations.register(request(2), Channel.APP, fingerprint=keyed(2, "k"))
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # When the request is replayed with its key
    again = registrations.register(request(2), Channel.APP, fingerprint=keyed(2, "k"))
    # Then it answers as it answered first: reserve, rank 1
    assert (again.status, again.reserve_rank) == (Status.RESERVE, 1)
    assert again.registration_id == first.registration_id


def test_the_same_idempotency_key_with_another_body_is_refused(campaign: Any) -> None:
    # Given a keyed registration
    campaign()
    registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k1"))
    # When the key is sent again with another body / Then idempotency_key_reused
    with pytest.raises(IdempotencyKeyReused):
        registrations.register(request(1, first_name="อื่น"), Channel.APP, fingerprint=keyed(1, "k1", first_name="อื่น"))


def test_another_key_for_a_registered_person_is_a_repeat(campaign: Any) -> None:
    # Given a keyed registration / When the person registers with another key / Then already registered
    campaign()
    registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k1"))
    with pytest.raises(AlreadyRegistered):
        registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k2"))


def test_a_key_on_a_registration_made_without_one_is_a_repeat(campaign: Any) -> None:
    # Given a registration made without a key / When the person registers with a key / Then already registered
    campaign()
    register(1)
    with pytest.raises(AlreadyRegistered):
        registrations.register(request(1), Channel.APP, fingerprint=keyed(1, "k1"))


def test_a_batch_row_retried_with_its_code_secret_gets_its_own_registration_back(campaign: Any) -> None:
    # Given a batch row registered with its code secret
    campaign()
    secret = b"\x01" * 16
    first = registrations.register(request(1), Channel.ORG, label="Co.", code_secret=secret)
    # When the row is retried with the same secret / Then the same registration is answered
    again = registrations.register(request(1), Channel.ORG, label="Co.", code_secret=secret)
    assert again.registration_id == first.registration_id


def test_an_under_age_person_is_not_eligible_and_takes_no_place(campaign: Any) -> None:
    # Given a campaign for adults
    st = campaign(min_age=18)
    young = date(rules.today_in_bangkok().year - 17, 1, 1).isoformat()
    # When a 17-year-old registers / Then not eligible, and nothing was taken
    with pytest.raises(NotEligible):
        register(1, birth_date=young)
    assert st.quota.taken == 0 and not st.registrations.regs


def test_a_person_of_exactly_the_minimum_age_is_eligible(campaign: Any) -> None:
    # Given a campaign for adults / When someone who is 18 today registers / Then confirmed
    campaign(min_age=18)
    today = rules.today_in_bangkok()
    birthday = (
        today.replace(year=today.year - 18) if (today.month, today.day) != (2, 29) else date(today.year - 18, 2, 28)
    )
    assert register(1, birth_date=birthday.isoformat()).status is Status.CONFIRMED


def test_a_closed_channel_refuses_and_takes_no_place(campaign: Any) -> None:
    # Given the app channel closed
    st = campaign()
    st.channels.set_channel("app", False)
    # When someone registers through it / Then channel_closed, nothing taken
    with pytest.raises(ChannelClosed):
        register(1)
    assert st.quota.taken == 0


def test_closing_one_channel_leaves_the_others_open(campaign: Any) -> None:
    # Given the app channel closed / When someone registers at the counter / Then confirmed
    st = campaign()
    st.channels.set_channel("app", False)
    assert register(1, channel=Channel.COUNTER).status is Status.CONFIRMED


def test_a_place_parked_while_nobody_waited_goes_to_the_next_newcomer_confirmed(campaign: Any) -> None:
    # Given a full primary list, an empty reserve, and a cancelled confirmed person's place parked
    st = campaign(primary=1, reserve=1)
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    assert st.gate.parked == 1
    # When a newcomer registers / Then they get the parked place, confirmed
    view = register(2)
    assert view.status is Status.CONFIRMED and st.gate.parked == 0 and st.gate.seq == 0


def test_a_cancelled_person_may_register_again_and_the_old_receipt_still_resolves(campaign: Any) -> None:
    # Given a cancelled registration
    st = campaign(primary=2)
    old = register(1)
    cancellations.cancel(old.registration_id, BIRTH)
    # When the person registers again
    new = register(1)
    # Then a new registration is made and the old code still shows the cancelled one
    assert new.registration_id != old.registration_id and new.status is Status.CONFIRMED
    assert lookups.get(old.registration_id).status is Status.CANCELLED
    stored_old = st.registrations.get(old.registration_id)
    assert stored_old is not None and stored_old.archived


def test_a_ticket_whose_registration_is_refused_leaves_the_reserve(campaign: Any) -> None:
    # Given a full primary list, and a person whose other request lands between the check and the write
    st = campaign(primary=1, reserve=2)
    register(1)
    register(2)
    st.registrations.current = lambda pointer: None  # type: ignore[method-assign,assignment]
    # When that person registers again / Then refused
    with pytest.raises(AlreadyRegistered):
        register(2)
    # And the ticket taken for it is void and has left the reserve; its counts are taken back
    assert st.reserve.ticket(2).void and st.quota.counts().reserve_active == 1
    assert st.statistics.stats()["status_reserve"] == 1


def test_a_reserve_write_refused_before_it_landed_gives_the_ticket_back(campaign: Any) -> None:
    # Given a full primary list, and the registrations table refusing writes (nothing applied)
    st = campaign(primary=1, reserve=2)
    register(1)
    st.registrations.fail_with = Overloaded(retry_after=1, maybe_applied=False)
    # When a newcomer registers / Then overloaded (429), and the ticket left the reserve
    with pytest.raises(Overloaded):
        register(2)
    assert st.reserve.ticket(1).void and st.quota.counts().reserve_active == 0


def test_a_reserve_write_that_may_have_landed_keeps_its_ticket(campaign: Any) -> None:
    # Given a full primary list, and a write whose answer was lost (it may have been applied)
    st = campaign(primary=1, reserve=2)
    register(1)
    st.registrations.fail_with = Overloaded(retry_after=1, maybe_applied=True)
    # When a newcomer registers / Then overloaded, and the ticket is left for the release job to settle
    with pytest.raises(Overloaded):
        register(2)
    assert not st.reserve.ticket(1).void and st.quota.counts().reserve_active == 1


def test_a_confirmed_write_refused_before_it_landed_keeps_the_place_in_hand(campaign: Any) -> None:
    # Given the registrations table refusing writes (nothing applied)
    st = campaign(primary=2)
    st.registrations.fail_with = Overloaded(retry_after=1, maybe_applied=False)
    # When a newcomer registers / Then overloaded, and the place taken waits for the next newcomer
    with pytest.raises(Overloaded):
        register(1)
    assert st.quota.in_hand == 1


def test_a_confirmed_write_that_may_have_landed_leaves_the_place_to_it(campaign: Any) -> None:
    # Given a write whose answer was lost / When a newcomer registers / Then the place is not kept in hand
    st = campaign(primary=2)
    st.registrations.fail_with = Overloaded(retry_after=1, maybe_applied=True)
    with pytest.raises(Overloaded):
        register(1)
    assert st.quota.in_hand == 0


def test_a_reserve_registration_shows_its_rank_as_people_ahead_leave(campaign: Any) -> None:
    # Given ranks 1 and 2 on the reserve
    campaign(primary=1, reserve=2)
    register(1)
    y = register(2)
    z = register(3)
    # When rank 1 cancels / Then rank 2 reads as rank 1
    cancellations.cancel(y.registration_id, BIRTH)
    assert lookups.get(z.registration_id).reserve_rank == 1


def test_the_campaign_figures_count_places_left(campaign: Any) -> None:
    # Given 3 primary and 2 reserve places, and 4 people registered
    campaign(primary=3, reserve=2)
    for n in range(1, 5):
        register(n)
    # When the figures are read / Then 0 primary and 1 reserve place remain
    view = campaign_service.view()
    assert (view.primary.remaining, view.reserve.remaining) == (0, 1)


def test_a_promotion_sweep_requeues_nothing_when_nothing_is_pending(campaign: Any) -> None:
    # Given a campaign with registrations and no cancellation / When the minute sweep runs / Then nothing queued
    st = campaign()
    register(1)
    assert promotion.sweep() == 0 and st.promotions.sent == []


def test_a_registration_fake_refuses_like_the_store(campaign: Any) -> None:
    # Given the in-memory stores: a cancel conditional on a status that changed / Then Conflict (as DynamoDB's)
    st: FakeStores = campaign()
    view = register(1)
    reg = st.registrations.get(view.registration_id)
    assert reg is not None
    st.registrations.cancel(reg, reg.registered_at)
    from chalicelib.domain.errors import Conflict

    with pytest.raises(Conflict):
        st.registrations.cancel(reg, reg.registered_at)
