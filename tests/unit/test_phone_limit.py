"""The per-phone limit (contract v1.1): a phone's share is taken after the registration is stored,
and a refusal undoes the registration exactly (services.registrations, in-memory stores)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import PhoneLimitReached
from chalicelib.domain.models import Channel, Status
from chalicelib.services import registrations
from tests.unit.steps import BIRTH, register


def test_an_app_registration_over_the_phone_limit_is_undone_and_its_place_kept_for_the_next(campaign: Any) -> None:
    # Given a phone with two active app registrations, its limit
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="2")
    register(1)
    register(2)
    # When a third person registers through the app with the same phone
    with pytest.raises(PhoneLimitReached):
        register(3)
    # Then nothing of theirs is stored, and the place taken for them waits for the next newcomer
    assert len(st.registrations.regs) == 2 and st.quota.in_hand == 1
    assert register(4, phone="0898765432").status is Status.CONFIRMED and st.quota.in_hand == 0


def test_a_reserve_entry_over_the_phone_limit_gives_its_ticket_back(campaign: Any) -> None:
    # Given a full primary list and a phone at its limit
    st = campaign(primary=1, reserve=3, PHONE_REGISTRATION_LIMIT="1")
    register(1)
    # When another person with that phone joins the reserve / Then refused, and the ticket left the reserve
    with pytest.raises(PhoneLimitReached):
        register(2)
    assert st.quota.counts().reserve_active == 0 and st.reserve.ticket(1).void


def test_a_cancellation_gives_the_phone_share_back_once(campaign: Any) -> None:
    # Given a phone at its limit of one, its registration cancelled twice
    st = campaign(primary=5, PHONE_REGISTRATION_LIMIT="1")
    x = register(1)
    registrations.cancel(x.registration_id, BIRTH)
    registrations.cancel(x.registration_id, BIRTH)
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
