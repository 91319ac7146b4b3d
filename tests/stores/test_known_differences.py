"""The differences between the fakes and the DynamoDB stores kept on purpose, each named with its
reason and pinned by a test that passes only while the difference is there: a difference that
disappears (or changes) fails its test, and is then either dropped from the list or explained anew.

Anything else a case of this suite observes is the same on both backends."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest

from chalicelib.store.protocols import Stores
from tests.stores.conftest import Backend
from tests.stores.people import person

KNOWN_DIFFERENCES = {
    "places_in_hand": (
        "Quota.refill takes BULK places at once into the container's hand on DynamoDB (one write for"
        " many newcomers, a cost saving); the fake takes each place when asked: no unit test depends"
        " on how many are in hand, and counts() shows them either way."
    ),
    "full_known_for_a_while": (
        "Quota.known_full trusts a 'full' gate for FULL_CACHE_SECONDS on DynamoDB, then asks again;"
        " the fake has no clock and trusts it until a place is freed (a park, a leak returned, an"
        " exit), which both do at once."
    ),
    "items_as_stored": (
        "Glance.gate, the removal control item and a reconciliation run (Ledger.run) are the items as"
        " stored on DynamoDB (their key, the gate's applied marks...); the fake answers only the"
        " fields the services read."
    ),
}


def test_every_known_difference_is_pinned_by_a_test_of_its_own() -> None:
    module = sys.modules[__name__]
    assert {name for name in KNOWN_DIFFERENCES if not hasattr(module, f"test_difference_{name}")} == set()


def test_difference_places_in_hand(backend: Backend) -> None:
    # Given an empty campaign with room far from its end
    # When the quota refills its hand
    stores = backend.stores(primary=1000)
    stores.quota.refill()
    # Then DynamoDB holds BULK places in hand (counted as taken); the fake none
    from chalicelib.store.quota import BULK

    expected = {"fake": (0, 0), "dynamo": (BULK, BULK)}[backend.kind]
    counts = stores.quota.counts()
    assert (counts.in_hand, counts.primary_taken) == expected


def test_difference_full_known_for_a_while(stores: Stores, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a gate seen full
    stores.quota.see_gate({"parked": 0, "ra": 2, "seq": 2})
    assert stores.quota.known_full()
    # When more than FULL_CACHE_SECONDS pass (on the store's clock)
    from chalicelib.store import quota

    later = time.monotonic() + quota.FULL_CACHE_SECONDS + 1
    monkeypatch.setattr(quota, "time", SimpleNamespace(monotonic=lambda: later, time=time.time))
    # Then DynamoDB's quota asks the gate again; the fake still knows it full
    assert stores.quota.known_full() is {"fake": True, "dynamo": False}[backend.kind]


def test_difference_items_as_stored(stores: Stores, backend: Backend) -> None:
    # Given a gate, a removal lease and a reconciliation run
    assert stores.quota.park()
    stores.removal_control.lease_removals("a", 1000.0, 60)
    stores.ledger.start_run("run-1", {"status": "running"})
    # When they are read
    gate = stores.glance.look(person(1)[1], gate=True, channels=False).gate
    control = stores.removal_control.removal_control()
    run = stores.ledger.run("run-1")
    # Then on DynamoDB with their keys and every attribute stored; on the fake, the fields read
    assert gate is not None and control and run
    stored = backend.kind == "dynamo"
    assert ("pk" in gate, "pk" in control, "pk" in run) == (stored, stored, stored)
