"""The contract of the waiting room's store (``Queue`` in ``store/protocols.py``), on the fake and on
DynamoDB: one ticket per phone, moves, the arrivals index, buckets by round, the state's conditions."""

from __future__ import annotations

from chalicelib.domain.queue import QueueState, Segment
from chalicelib.store.protocols import Stores
from chalicelib.store.types import QueueBucket, QueueTicket

PHONE = "ab" * 12
OTHER = "cd" * 12


def test_the_state_is_written_once_and_read_as_written(stores: Stores) -> None:
    # Given no state / Then it does not exist
    assert not stores.queue.state().exists
    # When two writers create it / Then the first one's stands
    first = QueueState(created=10.0, opens_at=100.0, sequenced_to=99, rate=60, shards=4, pre_shards=4)
    stores.queue.create_state(first)
    kept = stores.queue.create_state(first.with_(rate=1))
    got = stores.queue.state()
    assert got == kept == first.with_(exists=True)


def test_the_state_changes_only_as_it_was_read(stores: Stores) -> None:
    stores.queue.create_state(QueueState(created=1.0, rate=60))
    segments = (Segment(100.5, 0.0, 60.0), Segment(160.25, 60.0, 120.0))
    # A field at its default may be absent from the item: expecting it holds
    assert stores.queue.write_state({"round": 1, "claim_until": 50.0}, {"round": 0, "dirty": False})
    # Another round's claim runs until 50: a write that wants the line free at 40 is refused, at 60 not
    assert not stores.queue.write_state({"round": 2}, {"round": 1}, free_at=40.0)
    assert stores.queue.write_state(
        {"round": 2, "segments": segments, "marks": ((5, 100),), "opened": True}, {"round": 1}, free_at=60.0
    )
    # A stale expectation is refused and changes nothing
    assert not stores.queue.write_state({"total": 9}, {"round": 1})
    got = stores.queue.state()
    assert (got.round, got.total, got.segments, got.marks, got.opened) == (2, 0, segments, ((5, 100),), True)


def test_a_phone_has_one_ticket(stores: Stores) -> None:
    # When a phone joins twice / Then the first ticket is kept and the second is told about it
    assert stores.queue.join(PHONE, "q_one", "q#100#0", 100, 100.5) is None
    assert stores.queue.join(PHONE, "q_two", "q#101#1", 101, 101.5) == QueueTicket("q_one")
    assert stores.queue.ticket(PHONE) == QueueTicket("q_one")
    assert stores.queue.ticket(OTHER) is None


def test_a_ticket_moves_once_from_where_it_was_found(stores: Stores) -> None:
    stores.queue.join(PHONE, "q_one", "q#100#0", 100, 100.5)
    # Not another ticket's move, not from a place it is not in
    assert not stores.queue.move(PHONE, "q_other", "q#200#1", 200, 1, None)
    assert not stores.queue.move(PHONE, "q_one", "q#200#1", 200, 1, 150)
    # Then once from its arrival, once more from where it went
    assert stores.queue.move(PHONE, "q_one", "q#200#1", 200, 1, None)
    assert not stores.queue.move(PHONE, "q_one", "q#201#0", 201, 0, None)
    assert stores.queue.ticket(PHONE) == QueueTicket("q_one", 200, 1)
    assert stores.queue.move(PHONE, "q_one", "q#210#0", 210, 0, 200)
    assert stores.queue.arrivals(["q#100#0", "q#200#1", "q#210#0"]) == {"q#210#0": ["q_one"]}


def test_the_arrivals_are_found_by_key_and_counted_by_second(stores: Stores) -> None:
    stores.queue.join(PHONE, "q_one", "q#pre#0", 100, 100.5)
    stores.queue.join(OTHER, "q_two", "q#pre#0", 103, 103.5)
    stores.queue.join("ef" * 12, "q_three", "q#pre#1", 103, 103.5)
    found = stores.queue.arrivals(["q#pre#0", "q#pre#1", "q#pre#2"])
    assert {k: sorted(v) for k, v in found.items()} == {"q#pre#0": ["q_one", "q_two"], "q#pre#1": ["q_three"]}
    assert [stores.queue.count_arrivals("q#pre#0", a, b) for a, b in ((0, 200), (100, 103), (99, 102))] == [2, 1, 1]


def test_a_bucket_is_overwritten_only_by_a_later_round(stores: Stores) -> None:
    first = QueueBucket(at=10.0, round=3, base=4, ids="AAAAAAAAAAABBBBBBBBBBB")
    assert stores.queue.bucket("100#0") is None
    assert stores.queue.put_bucket("100#0", first)
    # Not by the same round or an earlier one
    assert not stores.queue.put_bucket("100#0", QueueBucket(at=11.0, round=3))
    assert not stores.queue.put_bucket("100#0", QueueBucket(at=11.0, round=2))
    assert stores.queue.bucket("100#0") == first
    # A later round's (here a tombstone) replaces it
    assert stores.queue.put_bucket("100#0", QueueBucket(at=12.0, round=4))
    assert stores.queue.bucket("100#0") == QueueBucket(at=12.0, round=4)
    pre = QueueBucket(at=13.0, round=5, positions="AAAAAAAAAAA:7,BBBBBBBBBBB:1")
    assert stores.queue.put_bucket("pre#3", pre) and stores.queue.bucket("pre#3") == pre
