"""The per-phone limits: at most PHONE_REGISTRATION_LIMIT active app registrations (contract v1.1)
and PHONE_LIFETIME_LIMIT different people over the campaign (v1.2). A phone's share is taken before
the registration is written, and a phone at a limit is refused before the person is looked at
(services.phone_shares, services.registrations, in-memory stores)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import verification_keys
from chalicelib.domain.errors import AlreadyRegistered, PhoneLimitReached
from chalicelib.domain.models import Channel, Status
from chalicelib.domain.verification import phone_hash
from chalicelib.services import campaign as campaign_service
from chalicelib.services import cancellations
from tests.helpers import BASE_BODY
from tests.unit.steps import BIRTH, register

OTHER_PHONE = "0898765432"


def _phone() -> str:
    return phone_hash(BASE_BODY["phone"], verification_keys())


def _refusal(n: int, **changes: Any) -> str:
    """The code a registration of the n-th test person is refused with."""
    try:
        register(n, **changes)
    except (PhoneLimitReached, AlreadyRegistered) as refused:
        return refused.code
    raise AssertionError("registered")


def test_a_phone_at_its_limit_is_refused_before_any_place_is_taken(campaign: Any) -> None:
    # Given a phone with two active app registrations, its limit
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="2")
    register(1)
    register(2)
    # When a third person registers through the app with the same phone
    with pytest.raises(PhoneLimitReached):
        register(3)
    # Then nothing of theirs is stored, no place was taken, and the next newcomer is confirmed
    assert len(st.registrations.regs) == 2 and st.quota.taken == 2 and st.quota.in_hand == 0
    assert register(4, phone=OTHER_PHONE).status is Status.CONFIRMED


def test_a_place_in_hand_stays_in_hand_when_the_phone_is_refused(campaign: Any) -> None:
    # Given a phone at its limit, and a place in hand (the channel states known: no look first)
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="1")
    register(1)
    campaign_service.channel_states(fresh=True)
    st.quota.in_hand, st.quota.taken = 1, 2
    looks = st.glance.looks
    # When another person registers with that phone / Then refused by the share's write, before the
    # person is looked at, and the place is still in hand for the next newcomer
    with pytest.raises(PhoneLimitReached):
        register(2)
    assert st.glance.looks == looks and st.quota.in_hand == 1 and len(st.registrations.regs) == 1


def test_a_phone_at_its_limit_takes_no_reserve_ticket(campaign: Any) -> None:
    # Given a full primary list and a phone at its limit
    st = campaign(primary=1, reserve=3, PHONE_REGISTRATION_LIMIT="1")
    register(1)
    # When another person with that phone would join the reserve / Then refused, and the gate untouched
    with pytest.raises(PhoneLimitReached):
        register(2)
    assert (st.gate.seq, st.gate.ra, st.gate.stats) == (0, 0, {})


def test_a_cancellation_gives_the_phone_share_back_once(campaign: Any) -> None:
    # Given a phone at its limit of one, its registration cancelled twice
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="1")
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    cancellations.cancel(x.registration_id, BIRTH)
    # Then the phone counts none, and one new registration with it is allowed (and one only)
    assert sum(st.phones.n.values()) == 0
    register(2)
    with pytest.raises(PhoneLimitReached):
        register(3)


def test_counter_registrations_do_not_count_against_the_phone(campaign: Any) -> None:
    # Given a phone at its limit through the app / When the counter registers another person with it
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="1")
    register(1)
    view = register(2, channel=Channel.COUNTER)
    # Then they are confirmed, and the phone still counts one
    assert view.status is Status.CONFIRMED and sum(st.phones.n.values()) == 1


def test_the_seventh_different_person_is_refused_though_cancels_freed_shares(campaign: Any) -> None:
    # Given the default limits (4 active, 6 different people) and one phone
    st = campaign(primary=50, PHONE_REGISTRATION_LIMIT="4", PHONE_LIFETIME_LIMIT="6")
    # When different people register with it, the oldest cancelled whenever four are active
    active: list[str] = []
    answers: list[str] = []
    for n in range(16):
        if len(active) == 4:
            cancellations.cancel(active.pop(0), BIRTH)
        try:
            active.append(register(n).registration_id)
            answers.append("201")
        except PhoneLimitReached as refused:
            answers.append(refused.code)
    # Then six are registered, and every later person is refused: the 7th different person first
    assert answers == ["201"] * 6 + ["phone_limit_reached"] * 10
    assert st.phones.people(_phone()) == 6


def test_the_same_person_again_after_a_cancel_is_not_a_new_person(campaign: Any) -> None:
    # Given a phone that registered six different people, two of them cancelled since
    st = campaign(primary=50, PHONE_REGISTRATION_LIMIT="4", PHONE_LIFETIME_LIMIT="6")
    codes = {n: register(n).registration_id for n in range(4)}
    cancellations.cancel(codes[0], BIRTH)
    cancellations.cancel(codes[1], BIRTH)
    codes |= {n: register(n).registration_id for n in (4, 5)}
    cancellations.cancel(codes[2], BIRTH)
    assert (st.phones.people(_phone()), st.phones.count(_phone())) == (6, 3)
    # When a cancelled person registers again with it
    again = register(0)
    # Then they are accepted: still six people
    assert again.status is Status.CONFIRMED and st.phones.people(_phone()) == 6
    # And with a share free again, a seventh different person is refused, another earlier one accepted
    cancellations.cancel(codes[3], BIRTH)
    assert _refusal(7) == "phone_limit_reached"
    assert register(1).status is Status.CONFIRMED


@pytest.mark.parametrize("limit", ["active", "lifetime"])
def test_a_phone_at_a_limit_gets_the_same_answer_for_a_registered_and_an_unregistered_id(
    campaign: Any, limit: str
) -> None:
    # Given one ID registered through another phone, and our phone at its active (or lifetime) limit
    campaign(primary=50, PHONE_REGISTRATION_LIMIT="2", PHONE_LIFETIME_LIMIT="3")
    register(50, phone=OTHER_PHONE)
    mine = [register(n).registration_id for n in range(2)]
    if limit == "lifetime":
        cancellations.cancel(mine[0], BIRTH)
        cancellations.cancel(register(2).registration_id, BIRTH)
    # When the phone registers the registered ID, and an unregistered one
    # Then both are refused for the phone: the answer says nothing about the ID
    assert _refusal(50) == _refusal(51) == "phone_limit_reached"


def test_a_share_taken_for_a_person_registered_elsewhere_goes_back(campaign: Any) -> None:
    # Given a person registered with another phone, and a place in hand (no look first)
    st = campaign(primary=5, PHONE_LIFETIME_LIMIT="2")
    register(1, phone=OTHER_PHONE)
    campaign_service.channel_states(fresh=True)
    st.quota.in_hand, st.quota.taken = 1, 2
    # When they are registered again with our phone
    assert _refusal(1) == "already_registered"
    # Then our phone counts neither a share nor a person, and the place waits for the next newcomer
    assert (st.phones.count(_phone()), st.phones.people(_phone()), st.quota.in_hand) == (0, 0, 1)


def test_a_registration_whose_cancel_still_owes_the_share_passes_it_to_the_next(campaign: Any) -> None:
    # Given a cancelled registration whose phone share could not be given back yet
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="1")
    x = register(1).registration_id
    real = st.phones.give_back
    st.phones.give_back = lambda *a, **k: False  # type: ignore[method-assign]
    cancellations.cancel(x, BIRTH)
    st.phones.give_back = real  # type: ignore[method-assign]
    assert st.phones.count(_phone()) == 1
    # When the same person registers again with that phone
    again = register(1)
    # Then the new registration holds the share: one counted, and the old cancel gives back nothing
    assert again.status is Status.CONFIRMED and st.phones.count(_phone()) == 1
    old = st.registrations.get(x)
    assert old is not None
    assert cancellations.give_back_phone_share(old) is False and st.phones.count(_phone()) == 1
