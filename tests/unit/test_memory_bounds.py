"""What a long-lived container (a warm Lambda, or `make run`'s process) keeps in memory is bounded
(issue 21, finding 16): each map below stays within its stated bound after bound + 1,000 inserts
(the local meter's, which needs boto3, in tests/integration/test_meter.py). docs/capacity.md
("Memory of a long-lived container") lists them against the functions' memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from chalicelib.api import idempotency, pages
from chalicelib.domain.errors import AlreadyRegistered
from chalicelib.services import removals
from chalicelib.services.in_flight import InFlight
from local import edge
from local.sms import MESSAGES_KEPT, SmsStandIn
from tests.unit.fakes import FakeStores

MORE = 1_000


def fingerprint(n: int) -> str:
    """A registration's Idempotency-Key fingerprint as ``rules.idempotency_fingerprint`` makes it."""
    return hashlib.sha256(b"k%d" % n).hexdigest()[:32] + ":" + hashlib.sha256(b"b%d" % n).hexdigest()[:32]


@pytest.fixture
def recent_keys() -> Iterator[None]:
    idempotency.forget_all()
    yield
    idempotency.forget_all()


def test_the_idempotency_keys_a_container_remembers_stay_at_recent_keys(
    recent_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "RECENT_KEYS", 5_000)  # the same code at a tenth of a second
    # Given a container that answered RECENT_KEYS + 1,000 keyed registrations (one in ten a 409)
    for n in range(idempotency.RECENT_KEYS + MORE):
        idempotency.remember(fingerprint(n), AlreadyRegistered() if n % 10 == 0 else None)
    # Then it remembers the last RECENT_KEYS, the oldest forgotten
    assert len(idempotency._recent) == idempotency.RECENT_KEYS
    idempotency.replay_or_refuse(fingerprint(MORE - 1).split(":")[0] + ":another body")  # forgotten: no refusal
    with pytest.raises(idempotency.IdempotencyKeyReused):
        idempotency.replay_or_refuse(fingerprint(MORE).split(":")[0] + ":another body")


def test_recent_keys_at_their_bound_take_under_48_mb(recent_keys: None) -> None:
    # Given a sample of keys remembered, measured (one in ten a 409, kept with its error)
    sample = 5_000
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(sample):
            idempotency.remember(fingerprint(n), AlreadyRegistered() if n % 10 == 0 else None)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Then RECENT_KEYS of them fit in 48 MB (docs/capacity.md, "Memory of a long-lived container")
    per_key = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / sample
    assert per_key * idempotency.RECENT_KEYS < 48 * 1024 * 1024, per_key


def test_asset_names_from_urls_are_not_remembered() -> None:
    # Given requests for 1,000 + files that do not exist (the name comes from the URL)
    for n in range(len(pages.asset_names()) + MORE):
        assert pages.asset(f"nothing-{n}.js") is None
    for name in pages.asset_names():
        assert pages.asset(name) is not None
    # Then only the real files are cached
    assert pages._read_asset.cache_info().currsize == len(pages.asset_names())


def test_people_in_flight_are_forgotten_when_their_request_lands() -> None:
    # Given requests for bound + 1,000 people, each landing (a Lambda container serves one at a time)
    flights = InFlight()
    for n in range(1 + MORE):
        person = n.to_bytes(16, "big")
        flight, leads = flights.join(person)
        assert leads
        flights.land(person, flight)
    # Then none is kept: the map holds the requests running at once, and no more
    assert flights._flights == {}


def test_the_confirmations_waiting_for_a_removal_list_stay_under_list_max(
    campaign: Callable[..., FakeStores], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a container that confirms LIST_MAX + 1,000 people without a pause (the kick's clock never ripe)
    st = campaign(REMOVAL_KICK_SECONDS="3600")
    removals.note(force=True)  # starts the clock
    for n in range(removals.LIST_MAX + MORE):
        removals.note(f"r_{n:030d}")
        # Then never more than LIST_MAX wait: each full list leaves with the request that filled it
        assert len(removals._noted) < removals.LIST_MAX
    assert len(st.removal_jobs.sent) == (removals.LIST_MAX + MORE) // removals.LIST_MAX


def test_the_local_edge_limit_remembers_at_most_max_tracked_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "MAX_TRACKED", 2_000)
    limiter = edge.RateLimiter(5, 300, lambda: 1000.0)
    # Given MAX_TRACKED + 1,000 addresses, each still in its window
    for n in range(edge.MAX_TRACKED + MORE):
        assert limiter.hit(f"10.0.{n // 256}.{n % 256}") is None
    # Then the limiter holds MAX_TRACKED of them, the latest
    assert limiter.tracked() == edge.MAX_TRACKED
    assert limiter.hit(f"10.0.{(edge.MAX_TRACKED + MORE - 1) // 256}.{(edge.MAX_TRACKED + MORE - 1) % 256}") is None


def test_the_sms_stand_in_keeps_the_last_messages_kept() -> None:
    gateway = SmsStandIn()
    try:
        # Given MESSAGES_KEPT + 1,000 messages, and one of them again (a redelivered job)
        for n in range(MESSAGES_KEPT + MORE):
            gateway.keep(f"key-{n}", {"to": f"08{n:08d}", "text": "code"})
        gateway.keep(f"key-{MESSAGES_KEPT + MORE - 1}", {"to": "0800000000", "text": "again"})
        # Then it keeps the last MESSAGES_KEPT, once each, and counts every call
        assert len(gateway.messages) == MESSAGES_KEPT
        assert f"key-{MORE - 1}" not in gateway.messages and f"key-{MORE}" in gateway.messages
        assert gateway.messages[f"key-{MESSAGES_KEPT + MORE - 1}"]["text"] == "code"
        assert gateway.calls == MESSAGES_KEPT + MORE + 1
    finally:
        gateway.server.server_close()


def test_the_data_keys_a_container_keeps_unwrapped_stay_at_their_bound_in_under_a_megabyte() -> None:
    import os

    from chalicelib.config import get_settings
    from chalicelib.store.datakeys import DataKeys, _aesgcm

    bound = get_settings().data_key_cache_size  # DATA_KEY_CACHE_SIZE, 1,000 by default
    _aesgcm(os.urandom(32))  # the cipher's first use imports its backend: not the cache's memory
    tracemalloc.start()
    keys = DataKeys(lambda: None, None, "alias/k", 3600, bound)  # type: ignore[arg-type]
    for kid in range(bound + MORE):
        keys._remember(kid, _aesgcm(os.urandom(32)))
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(keys._known) == bound == 1_000
    assert used < 1_000_000, used
