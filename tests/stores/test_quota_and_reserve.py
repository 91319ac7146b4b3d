"""The ``Quota`` and ``Reserve`` contracts: primary places, the gate's overflow and parked places,
reserve tickets, exits and ranks (``store/protocols.py``), on the fake and on DynamoDB."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.store.protocols import Stores
from chalicelib.store.types import Overflow, PlaceCounts, Ticket
from tests.stores.conftest import Backend


def full(stores: Stores) -> None:
    """Every primary place taken."""
    while stores.quota.take_primary():
        pass


# -- primary places -----------------------------------------------------------------------------


def test_primary_places_are_given_up_to_the_capacity(stores: Stores) -> None:
    # Given 3 primary places
    # When 4 are asked for
    taken = [stores.quota.take_primary() for _ in range(4)]
    # Then 3 are given, and counted
    assert taken == [True, True, True, False]
    assert stores.quota.counts() == PlaceCounts(3, 0, 0, 0, 0)
    assert stores.quota.counts().primary_used == 3


def test_a_place_kept_is_given_again_without_counting_another(stores: Stores) -> None:
    # Given a place taken, then kept (the person was registered already)
    assert stores.quota.take_primary()
    stores.quota.keep()
    assert stores.quota.counts() == PlaceCounts(1, 0, 0, 0, 1)
    # When places in hand only are asked for, twice
    # Then the kept one is given once, and no new one is counted
    assert stores.quota.take_primary(in_hand_only=True)
    assert not stores.quota.take_primary(in_hand_only=True)
    assert stores.quota.counts() == PlaceCounts(1, 0, 0, 0, 0)


def test_raise_primary_counts_places_that_are_then_not_given(stores: Stores) -> None:
    # Given one place taken
    assert stores.quota.take_primary()
    # When the counter is raised by two (reconciliation found it low)
    stores.quota.raise_primary(2)
    # Then the campaign is full
    assert stores.quota.counts().primary_taken == 3
    assert not stores.quota.take_primary()


# -- overflow: the reserve and parked places ----------------------------------------------------


def test_once_full_overflow_gives_reserve_tickets_then_nothing(stores: Stores) -> None:
    # Given every primary place taken (3), 2 on the reserve
    full(stores)
    assert not stores.quota.known_full()
    # When the overflow is asked three times
    got = [stores.quota.take_overflow() for _ in range(3)]
    # Then two tickets in order, each with its rank, then None: the gate is known full
    assert got == [Overflow(ticket=1, rank=1), Overflow(ticket=2, rank=2), None]
    assert stores.quota.known_full()
    assert stores.quota.counts() == PlaceCounts(3, 0, 2, 2, 0)


def test_without_a_reserve_overflow_gives_parked_places_only(backend: Backend) -> None:
    # Given a full campaign without a reserve
    stores = backend.stores(primary=1, reserve=0)
    full(stores)
    # When the overflow is asked, before and after a place is parked
    # Then nothing, then the parked place, then nothing
    assert stores.quota.take_overflow() is None
    assert not stores.quota.known_full()  # learnt from the gate as read (see_gate), not from a refusal
    assert stores.quota.park()
    assert stores.quota.take_overflow() == Overflow(ticket=None)
    assert stores.quota.take_overflow() is None
    assert stores.quota.counts() == PlaceCounts(1, 0, 0, 0, 0)
    stores.quota.see_gate({"parked": 0, "ra": 0, "seq": 0})
    assert stores.quota.known_full()


def test_a_reserve_ticket_adds_its_counts_to_the_statistics(stores: Stores) -> None:
    full(stores)
    stores.quota.take_overflow({"status_reserve": 1, "channel_app": 1})
    stores.statistics.count({"channel_app": 1})
    assert stores.statistics.stats() == {"status_reserve": 1, "channel_app": 2}


def test_gate_due_once_every_primary_place_is_taken_and_the_gate_not_known_full(stores: Stores) -> None:
    assert not stores.quota.gate_due()
    full(stores)
    assert stores.quota.gate_due()
    for _ in range(3):
        stores.quota.take_overflow()
    assert not stores.quota.gate_due()


@pytest.mark.parametrize(
    ("gate", "known_full"),
    [
        ({"parked": 0, "ra": 2, "seq": 2}, True),
        ({"parked": 1, "ra": 0, "seq": 2}, False),
        ({"parked": 0, "ra": 1, "seq": 1}, False),
        ({}, False),
    ],
)
def test_a_gate_seen_full_is_known_full(stores: Stores, gate: dict[str, int], known_full: bool) -> None:
    # Given a gate as read with a person's item (no place parked, the reserve at its capacity of 2)
    # When the quota sees it
    stores.quota.see_gate(gate)
    # Then refusals need not ask it again
    assert stores.quota.known_full() is known_full


def test_a_freed_place_is_parked_while_nobody_waits(stores: Stores) -> None:
    # Given a full campaign with nobody on the reserve
    full(stores)
    # When a vacancy's place is parked (the vacancy's hand-over makes it once: services.promotion)
    assert stores.quota.park()
    # Then it is given to the next newcomer instead of a ticket
    assert stores.quota.counts().parked == 1
    assert stores.quota.take_overflow() == Overflow(ticket=None)
    assert stores.quota.counts().parked == 0
    assert stores.quota.take_overflow() == Overflow(ticket=1, rank=1)


def test_no_place_is_parked_or_returned_while_someone_waits_on_the_reserve(stores: Stores) -> None:
    # Given someone on the reserve
    full(stores)
    assert stores.quota.take_overflow() == Overflow(ticket=1, rank=1)
    # When a vacancy's place would be parked, or leaked places returned
    # Then neither is: the place is theirs
    assert not stores.quota.park()
    assert not stores.quota.return_leaked(2)
    assert stores.quota.counts().parked == 0


def test_parking_or_returning_a_place_ends_the_known_full(stores: Stores) -> None:
    full(stores)
    stores.quota.see_gate({"parked": 0, "ra": 2, "seq": 2})
    assert stores.quota.return_leaked(2)
    assert not stores.quota.known_full()
    assert stores.quota.counts().parked == 2
    stores.quota.see_gate({"parked": 0, "ra": 2, "seq": 2})
    assert stores.quota.park()
    assert not stores.quota.known_full()


# -- tickets ------------------------------------------------------------------------------------


def test_a_tickets_holder_is_recorded_and_read(stores: Stores) -> None:
    stores.reserve.put_ticket(1, "r_a", 100.0004)
    assert stores.reserve.ticket(1) == Ticket(1, "r_a", 100.0, False)
    assert stores.reserve.ticket(2) == Ticket(2, None, None, False)


def test_a_ticket_is_voided_only_with_its_holder_as_read(stores: Stores) -> None:
    # Given a held ticket
    stores.reserve.put_ticket(1, "r_a", 100.0)
    # When it is voided with the wrong holder, or as holderless
    # Then Conflict
    with pytest.raises(Conflict):
        stores.reserve.void_ticket(1, "r_b")
    with pytest.raises(Conflict):
        stores.reserve.void_ticket(1, None)
    # And voided with its holder it is void, and takes no holder and no watch any more
    stores.reserve.void_ticket(1, "r_a")
    assert stores.reserve.ticket(1).void
    with pytest.raises(Conflict):
        stores.reserve.put_ticket(1, "r_b", 101.0)
    with pytest.raises(Conflict):
        stores.reserve.watch_ticket(1, 101.0)


def test_a_holderless_ticket_is_voided_as_such(stores: Stores) -> None:
    stores.reserve.void_ticket(3, None)
    assert stores.reserve.ticket(3) == Ticket(3, None, None, True)


def test_watch_ticket_keeps_the_first_time_it_was_seen_empty(stores: Stores) -> None:
    assert stores.reserve.watch_ticket(1, 100.0) == 100.0
    assert stores.reserve.watch_ticket(1, 250.0) == 100.0


def test_ranks_count_the_tickets_still_on_the_reserve_before_each(backend: Backend) -> None:
    # Given four tickets
    stores = backend.stores(primary=1, reserve=4)
    full(stores)
    tickets = [stores.quota.take_overflow() for _ in range(4)]
    assert [t.ticket for t in tickets if t] == [1, 2, 3, 4]
    # When tickets 1 and 3 leave (3 reported twice, under two holders)
    stores.reserve.reserve_exit("r_a", 1)
    stores.reserve.reserve_exit("r_c", 3)
    stores.reserve.reserve_exit("r_c2", 3)
    # Then each left once: the ranks, the waiting tickets and the active reserve count them once
    assert stores.reserve.rank(2) == 1
    assert stores.reserve.ranks([2, 4]) == {2: 1, 4: 2}
    assert stores.reserve.ranks([]) == {}
    assert stores.reserve.waiting_tickets(10) == [2, 4]
    assert stores.reserve.waiting_tickets(1) == [2]
    assert stores.quota.counts().reserve_active == 2


def test_an_exit_frees_a_reserve_place_for_newcomers_at_once(stores: Stores) -> None:
    # Given a full campaign, the reserve full and known full
    full(stores)
    stores.quota.take_overflow()
    stores.quota.take_overflow()
    assert stores.quota.take_overflow() is None and stores.quota.known_full()
    # When a ticket leaves the reserve
    stores.reserve.reserve_exit("r_a", 1)
    # Then the next newcomer gets the freed place: ticket 3, rank 2
    assert not stores.quota.known_full()
    assert stores.quota.take_overflow() == Overflow(ticket=3, rank=2)


def test_no_ticket_waits_before_any_was_issued(stores: Stores) -> None:
    assert stores.reserve.waiting_tickets(10) == []
