"""Cancel: what a cancellation changes, once, however often it is asked (services.cancellations)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import rules
from chalicelib.domain.errors import Conflict, NotFound, Overloaded
from chalicelib.domain.models import LookupRequest, Registration, Status
from chalicelib.services import appointments, cancellations, lookups
from tests.unit.fakes import FakeStores
from tests.unit.steps import BIRTH, register, release_all


def test_cancelling_a_confirmed_registration_queues_the_release_of_its_place(campaign: Any) -> None:
    # Given a confirmed registration
    st = campaign()
    x = register(1)
    # When it is cancelled
    view = cancellations.cancel(x.registration_id, BIRTH)
    # Then it is cancelled and its place is on its way to the reserve
    assert view.status is Status.CANCELLED
    assert st.promotions.sent == [{"kind": "release", "registration_id": x.registration_id}]


def test_cancelling_a_reserve_registration_moves_the_ranks_behind_up_at_once(campaign: Any) -> None:
    # Given ranks 1 and 2
    st = campaign(primary=1, reserve=2)
    register(1)
    y = register(2)
    z = register(3)
    # When rank 1 cancels
    cancellations.cancel(y.registration_id, BIRTH)
    # Then rank 2 is rank 1, the reserve holds one, and no release job is needed
    assert lookups.get(z.registration_id).reserve_rank == 1
    assert st.quota.counts().reserve_active == 1 and st.promotions.sent == []


def test_a_wrong_birth_date_is_not_found_and_changes_nothing(campaign: Any) -> None:
    # Given a confirmed registration / When it is cancelled with a wrong birth date / Then not found
    st = campaign()
    x = register(1)
    with pytest.raises(NotFound):
        cancellations.cancel(x.registration_id, "1980-02-01")
    stored = st.registrations.get(x.registration_id)
    assert stored is not None and stored.status is Status.CONFIRMED and st.promotions.sent == []


def test_an_unknown_receipt_code_is_not_found(campaign: Any) -> None:
    # Given an empty campaign / When an unknown code is cancelled / Then not found
    campaign()
    with pytest.raises(NotFound):
        cancellations.cancel("r_" + "A" * 43, BIRTH)


def test_cancelling_twice_counts_the_cancellation_once(campaign: Any) -> None:
    # Given a cancelled confirmed registration
    st = campaign()
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    # When it is cancelled again
    again = cancellations.cancel(x.registration_id, BIRTH)
    # Then the answer is the same, and the counters moved once
    assert again.status is Status.CANCELLED
    stats = st.statistics.stats()
    assert stats["status_cancelled"] == 1 and stats["status_confirmed"] == -1


def test_a_cancel_whose_release_could_not_be_queued_is_finished_by_its_retry(campaign: Any) -> None:
    # Given the release queue refusing (429)
    st = campaign()
    x = register(1)
    st.promotions.fail_with = Overloaded(retry_after=1)
    # When the person cancels / Then 429, but the registration is cancelled
    with pytest.raises(Overloaded):
        cancellations.cancel(x.registration_id, BIRTH)
    assert lookups.get(x.registration_id).status is Status.CANCELLED
    # When the queue is back and the person tries again / Then the release goes, the counters once
    st.promotions.fail_with = None
    assert cancellations.cancel(x.registration_id, BIRTH).status is Status.CANCELLED
    assert st.promotions.sent == [{"kind": "release", "registration_id": x.registration_id}]
    assert st.statistics.stats()["status_cancelled"] == 1


def test_a_cancel_after_the_place_was_handed_on_queues_nothing_more(campaign: Any) -> None:
    # Given a cancelled registration whose place went to the reserve
    st = campaign(primary=1, reserve=1)
    x = register(1)
    register(2)
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # When it is cancelled again / Then nothing is queued
    cancellations.cancel(x.registration_id, BIRTH)
    assert st.promotions.sent == []


def test_a_reserve_cancel_repeated_leaves_the_reserve_once(campaign: Any) -> None:
    # Given ranks 1 and 2, and rank 1 cancelled
    st = campaign(primary=1, reserve=3)
    register(1)
    y = register(2)
    register(3)
    cancellations.cancel(y.registration_id, BIRTH)
    # When rank 1's cancel is sent again / Then the reserve still counts one waiting
    cancellations.cancel(y.registration_id, BIRTH)
    assert st.quota.counts().reserve_active == 1


def test_cancelling_frees_the_booked_appointments_once(campaign: Any) -> None:
    # Given a confirmed registration with both doses booked
    st = campaign()
    x = register(1)
    reg = st.registrations.get(x.registration_id)
    assert reg is not None and appointments.allocate(reg)
    assert sum(st.slots.used.values()) == 2
    # When it is cancelled, twice / Then both places are given back, once
    cancellations.cancel(x.registration_id, BIRTH)
    cancellations.cancel(x.registration_id, BIRTH)
    assert sum(st.slots.used.values()) == 0
    assert lookups.get(x.registration_id).appointment is None


def test_a_registration_promoted_before_the_cancel_landed_is_cancelled_as_confirmed(campaign: Any) -> None:
    # Given a reserve registration that is promoted between the cancel's read and its write
    st: FakeStores = campaign(primary=1, reserve=1)
    register(1)
    y = register(2)
    real_cancel = st.registrations.cancel

    def promoted_meanwhile(reg: Registration, now: Any) -> Registration:
        st.registrations.cancel = real_cancel  # type: ignore[method-assign]
        st.registrations.promote(reg.registration_id, "vacancy", now)
        raise Conflict("registration changed")

    st.registrations.cancel = promoted_meanwhile  # type: ignore[method-assign]
    # When the person cancels
    cancellations.cancel(y.registration_id, BIRTH)
    # Then it is cancelled as the confirmed registration it became: its place is released as a primary one
    stored = st.registrations.get(y.registration_id)
    assert stored is not None and stored.status is Status.CANCELLED and stored.held == "primary"
    assert st.promotions.sent == [{"kind": "release", "registration_id": y.registration_id}]


def test_a_cancelled_registration_has_no_rank(campaign: Any) -> None:
    # Given a reserve registration / When it is cancelled / Then its resource shows no rank
    campaign(primary=1, reserve=1)
    register(1)
    y = register(2)
    assert cancellations.cancel(y.registration_id, BIRTH).reserve_rank is None


def test_lookup_with_a_wrong_birth_date_is_not_found(campaign: Any) -> None:
    # Given a registration / When it is looked up with the right ID and a wrong birth date / Then not found
    campaign()
    register(1)
    from tests.helpers import national_id

    with pytest.raises(NotFound):
        lookups.lookup(LookupRequest(national_id=national_id(1), birth_date="1980-02-01"))
    found = lookups.lookup(LookupRequest(national_id=national_id(1), birth_date=BIRTH))
    assert found.status is Status.CONFIRMED


def test_the_person_pointer_does_not_depend_on_how_the_id_was_written(campaign: Any) -> None:
    # Given a registration made with a grouped national ID
    campaign()
    from tests.helpers import national_id

    nid = national_id(7)
    grouped = f"{nid[0]}-{nid[1:5]}-{nid[5:10]}-{nid[10:12]}-{nid[12]}"
    register(7, national_id=grouped)
    # When the person registers with the plain ID / Then it is a repeat
    from chalicelib.domain.errors import AlreadyRegistered

    with pytest.raises(AlreadyRegistered):
        register(7)
    assert rules.normalise_national_id(grouped) == nid
