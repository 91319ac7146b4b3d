"""The differences between the fakes and the DynamoDB stores kept on purpose, each named with its
reason and pinned by a test that passes only while the difference is there: a difference that
disappears (or changes) fails its test, and is then either dropped from the list or explained anew.

Anything else a case of this suite observes is the same on both backends."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest

from chalicelib.domain import verification as v
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
        "Glance.gate and the removal control item are the items as stored on DynamoDB (their key,"
        " the gate's applied marks...); the fake answers only the fields the services read."
    ),
    "verification_limits": (
        "Verifications.start counts a phone's codes (one a minute, CODES_PER_DAY a day) and settle a"
        " verification's wrong codes (WRONG_CODES_ALLOWED) on DynamoDB; the fake sends every code and"
        " takes every try: the limits' arithmetic is tested on the engine"
        " (tests/integration/test_verifications.py, test_lockouts.py)."
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
    # Given a gate and a removal lease
    assert stores.quota.park()
    stores.removal_control.lease_removals("a", 1000.0, 60)
    # When they are read
    gate = stores.glance.look(person(1)[1], gate=True, channels=False).gate
    control = stores.removal_control.removal_control()
    # Then on DynamoDB with their keys and every attribute stored; on the fake, the fields read
    assert gate is not None and control
    stored = backend.kind == "dynamo"
    assert ("pk" in gate, "pk" in control) == (stored, stored)


def test_difference_verification_limits(stores: Stores, backend: Backend) -> None:
    # Given a phone sent a code
    phone_key = "ef" * 32
    vid = v.new_verification_id(phone_key)
    assert stores.verifications.start(phone_key, "0812345678", vid, 1000) == 0
    # When another is asked for ten seconds later, and the first is tried with every wrong code allowed
    wait = stores.verifications.start(phone_key, "0812345678", v.new_verification_id(phone_key), 1010)
    for _ in range(v.WRONG_CODES_ALLOWED):
        assert stores.verifications.settle(vid, False, 1020) == ("wrong", None)
    right = stores.verifications.settle(vid, True, 1030)
    # Then DynamoDB says when the next code may go and the verification is spent; the fake sends
    # the code and takes the right one
    assert (wait, right) == {
        "fake": (0, ("ok", "0812345678")),
        "dynamo": (v.RESEND_AFTER_SECONDS - 10, ("spent", None)),
    }[backend.kind]
