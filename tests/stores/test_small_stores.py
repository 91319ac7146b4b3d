"""The contracts of the smaller stores (``store/protocols.py``), on the fake and on DynamoDB: slots,
statistics, channels, the glance, staff tokens, batches, the removal control, the ledger's runs and
snapshots, phone verifications' basics and the job queues. The phones are in ``test_phones.py``; the
attempts and verifications' limits in ``test_guards.py``; the audit trail and the rest of the ledger
in ``test_audit_and_ledger.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import verification as v
from chalicelib.domain.batches import BatchMeta, RowResult
from chalicelib.domain.errors import Conflict
from chalicelib.domain.staff import Role, StaffToken
from chalicelib.store.protocols import Stores
from chalicelib.store.types import PendingVerification, SlotDay
from tests.stores.conftest import Backend
from tests.stores.people import person

DAY = "2026-08-01"
NOW = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)

# -- slots --------------------------------------------------------------------------------------


def test_a_day_gives_places_up_to_its_capacity(stores: Stores) -> None:
    assert [stores.slots.take_slot(DAY, 0, 2) for _ in range(3)] == [True, True, False]
    assert stores.slots.take_slot(DAY, 1, 2)
    assert stores.slots.slots([(DAY, 0), (DAY, 1), (DAY, 2)]) == {
        (DAY, 0): SlotDay(2, frozenset(), frozenset()),
        (DAY, 1): SlotDay(1, frozenset(), frozenset()),
        (DAY, 2): SlotDay(0, frozenset(), frozenset()),
    }


def test_a_place_is_given_back_once_per_registration_and_never_below_zero(stores: Stores) -> None:
    # Given two places taken
    stores.slots.take_slot(DAY, 0, 5)
    stores.slots.take_slot(DAY, 0, 5)
    # When one registration's place is given back twice, then one without a registration, twice
    stores.slots.free_slot(DAY, 0, "r_a")
    stores.slots.free_slot(DAY, 0, "r_a")
    assert stores.slots.slots([(DAY, 0)])[(DAY, 0)].used == 1
    stores.slots.free_slot(DAY, 0)
    stores.slots.free_slot(DAY, 0)
    stores.slots.free_slot(DAY, 1, "r_b")
    # Then each counts once, and an empty day stays at zero
    assert stores.slots.slots([(DAY, 0), (DAY, 1)]) == {
        (DAY, 0): SlotDay(0, frozenset(), frozenset()),
        (DAY, 1): SlotDay(0, frozenset(), frozenset()),
    }


def test_visits_are_recorded_as_sets(stores: Stores) -> None:
    stores.slots.record_visit(DAY, 0, "came", "r_a:1")
    stores.slots.record_visit(DAY, 0, "came", "r_a:1")
    stores.slots.record_visit(DAY, 0, "missed", "r_b:1")
    with pytest.raises(ValueError):
        stores.slots.record_visit(DAY, 0, "late", "r_c:1")
    assert stores.slots.slots([(DAY, 0)])[(DAY, 0)] == SlotDay(0, frozenset({"r_a:1"}), frozenset({"r_b:1"}))


def test_raise_slot_holds_places_back(stores: Stores) -> None:
    stores.slots.raise_slot(DAY, 0, 2)
    assert not stores.slots.take_slot(DAY, 0, 2)
    assert stores.slots.slots([(DAY, 0)])[(DAY, 0)].used == 2


# -- statistics, channels, the glance -----------------------------------------------------------


def test_statistics_add_up(stores: Stores) -> None:
    assert stores.statistics.stats() == {}
    stores.statistics.count({"channel_app": 1, "status_confirmed": 1})
    stores.statistics.count({"channel_app": 1, "status_confirmed": -1, "status_cancelled": 1})
    stores.statistics.adjust_stat("status_confirmed", 3)
    assert stores.statistics.stats() == {"channel_app": 2, "status_confirmed": 3, "status_cancelled": 1}


def test_channels_are_open_until_closed(stores: Stores) -> None:
    assert stores.channels.channels() == {"app": True, "counter": True, "org": True}
    stores.channels.set_channel("org", False)
    assert stores.channels.channels() == {"app": True, "counter": True, "org": False}
    stores.channels.set_channel("org", True)
    assert stores.channels.channels()["org"]


def test_a_glance_gives_the_person_and_what_was_asked(stores: Stores) -> None:
    # Given a registered person, a closed channel and a reserve ticket
    reg, pointer = person(1)
    stores.registrations.create(reg, pointer, "fp")
    stores.channels.set_channel("app", False)
    while stores.quota.take_primary():
        pass
    stores.quota.take_overflow()
    # When they are glanced at, with and without the gate and the channels
    bare = stores.glance.look(pointer, gate=False, channels=False)
    full = stores.glance.look(pointer, gate=True, channels=True)
    nobody = stores.glance.look(person(2)[1], gate=False, channels=True)
    # Then each answer has what was asked for (the gate's counters, see KNOWN_DIFFERENCES)
    assert bare.current == (reg, "fp") and bare.gate is None and bare.channels is None
    assert full.current == (reg, "fp")
    assert full.gate is not None and {k: full.gate.get(k, 0) for k in ("parked", "ra", "seq")} == {
        "parked": 0,
        "ra": 1,
        "seq": 1,
    }
    assert full.channels == {"app": False, "counter": True, "org": True}
    assert nobody.current is None and nobody.channels == full.channels


# -- staff tokens -------------------------------------------------------------------------------


def token(token_id: str = "t1") -> StaffToken:
    return StaffToken(token_id=token_id, role=Role.COUNTER, label="desk 1", created_at=NOW)


def test_a_token_is_stored_by_its_hash_once(stores: Stores) -> None:
    stores.staff.put_token("hash-1", token())
    assert stores.staff.token("hash-1") == token()
    assert stores.staff.token("hash-2") is None
    with pytest.raises(Conflict):
        stores.staff.put_token("hash-1", token("t2"))


def test_a_token_is_revoked_by_its_public_id_at_its_first_revocation(stores: Stores) -> None:
    stores.staff.put_token("hash-1", token())
    later = NOW.replace(hour=9)
    assert stores.staff.revoke("t1", NOW)
    assert stores.staff.revoke("t1", later)
    assert not stores.staff.revoke("t-unknown", NOW)
    found = stores.staff.token("hash-1")
    assert found is not None and found.revoked_at == NOW


# -- batches ------------------------------------------------------------------------------------


def test_a_batch_keeps_its_chunks_and_each_rows_first_outcome(stores: Stores) -> None:
    meta = BatchMeta(
        batch_id="b1", owner="t1", label="Co.", organisation="Co.", row_count=3, chunk_count=2, created_at=NOW
    )
    stores.batches.create(meta, [[{"n": 1}, {"n": 2}], [{"n": 3}]])
    assert stores.batches.meta("b1") == meta
    assert stores.batches.meta("b2") is None
    assert stores.batches.chunk("b1", 0) == (1, [{"n": 1}, {"n": 2}])
    assert stores.batches.chunk("b1", 1) == (3, [{"n": 3}])
    stores.batches.record("b1", RowResult(row=1, outcome="confirmed", registration_id="r_a"))
    stores.batches.record("b1", RowResult(row=1, outcome="reserve", registration_id="r_b"))
    stores.batches.record("b1", RowResult(row=2, outcome="reserve", registration_id="r_c"))
    assert stores.batches.results("b1") == {
        1: RowResult(row=1, outcome="confirmed", registration_id="r_a"),
        2: RowResult(row=2, outcome="reserve", registration_id="r_c"),
    }
    assert stores.batches.results("b2") == {}
    with pytest.raises(Conflict):
        stores.batches.create(meta, [[{"n": 1}]])


# -- the removal sweep's lease ------------------------------------------------------------------


def test_the_removal_lease_is_held_by_one_sweep_until_it_runs_out_or_is_given_back(stores: Stores) -> None:
    control = stores.removal_control
    # Given a sweep holding the lease for 60 s
    first = control.lease_removals("a", 1000.0, 60)
    assert first is not None and (first["holder"], first["until_at"]) == ("a", 1060.0)
    # Then another is refused meanwhile, the holder renews it, another takes it once it ran out
    assert control.lease_removals("b", 1030.0, 60) is None
    renewed = control.lease_removals("a", 1030.0, 60)
    assert renewed is not None and renewed["until_at"] == 1090.0
    taken = control.lease_removals("b", 1091.0, 60)
    assert taken is not None and taken["holder"] == "b"


def test_a_sweep_records_each_registrys_backoff_and_gives_the_lease_back(stores: Stores) -> None:
    control = stores.removal_control
    control.lease_removals("a", 1000.0, 60)
    # When a sweep that lost the lease ends, nothing of it is recorded
    control.end_removals("b", {"mor_phrom": (2000.0, 3)})
    assert "down_mor_phrom" not in control.removal_control()
    # When the holder ends, keeping the lease, then giving it back
    control.end_removals("a", {"mor_phrom": (1500.0004, 2)}, release=False)
    assert control.removal_control()["holder"] == "a"
    control.end_removals("a", {"khon_kaen_phrom": (0.0, 0)})
    # Then each registry's backoff is kept, and the lease is free
    item = control.removal_control()
    assert (item["down_mor_phrom"], item["fails_mor_phrom"]) == (1500.0, 2)
    assert (item["down_khon_kaen_phrom"], item["fails_khon_kaen_phrom"]) == (0, 0)
    assert "holder" not in item and "until_at" not in item
    assert control.lease_removals("b", 1001.0, 60) is not None
    control.save_registry_health({"mor_phrom": (10.0, 0)})
    assert control.removal_control()["fails_mor_phrom"] == 0


# -- the ledger (runs and snapshots) ------------------------------------------------------------


def test_a_run_is_started_once_and_finished(stores: Stores) -> None:
    stores.ledger.start_run("run-1", {"status": "running", "segments": 2})
    with pytest.raises(Conflict):
        stores.ledger.start_run("run-1", {"status": "running"})
    assert stores.ledger.run("run-1")["status"] == "running"
    assert stores.ledger.run("run-2") == {}
    stores.ledger.finish_run("run-1", {"leak": 0})
    run = stores.ledger.run("run-1")
    assert (run["status"], run["findings"]) == ("done", {"leak": 0})


def test_the_places_left_snapshot_is_kept_per_day(stores: Stores) -> None:
    assert stores.ledger.places_snapshot(DAY) is None
    stores.ledger.put_places_snapshot(DAY, {"0": 3})
    stores.ledger.put_places_snapshot(DAY, {"0": 2, "1": 1})
    assert stores.ledger.places_snapshot(DAY) == {"0": 2, "1": 1}


# -- phone verifications (the basics) ----------------------------------------------------------


def test_a_verification_is_pending_with_its_phone_until_its_code_expires(stores: Stores) -> None:
    phone_key = "ab" * 32
    vid = v.new_verification_id(phone_key)
    assert stores.verifications.start(phone_key, "0812345678", vid, 1000) == 0
    expected = PendingVerification(phone="0812345678", code_expires=1000 + v.CODE_TTL_SECONDS)
    assert stores.verifications.pending(vid) == expected
    unknown = v.new_verification_id(phone_key)
    assert stores.verifications.pending_many([vid, unknown]) == {vid: expected, unknown: None}
    assert stores.verifications.entry(vid)["exp"] == expected.code_expires
    assert stores.verifications.entry(unknown) == {}


def test_a_right_code_on_a_live_verification_settles_it(stores: Stores) -> None:
    phone_key = "cd" * 32
    vid = v.new_verification_id(phone_key)
    stores.verifications.start(phone_key, "0812345678", vid, 1000)
    assert stores.verifications.settle(vid, True, 1001) == ("ok", "0812345678")
    assert stores.verifications.settle(v.new_verification_id(phone_key), True, 1001) == ("unknown", None)
    assert stores.verifications.settle(vid, True, 1000 + v.CODE_TTL_SECONDS) == ("spent", None)


# -- job queues ---------------------------------------------------------------------------------


def test_jobs_sent_are_queued(backend: Backend) -> None:
    stores = backend.stores()
    backend.messages("removal_jobs")  # what an earlier case left
    stores.removal_jobs.send({"kind": "sweep"})
    stores.removal_jobs.send_many([{"n": 1}, {"n": 2}])
    stores.removal_jobs.send_many([])
    assert sorted(map(str, backend.messages("removal_jobs"))) == sorted(
        map(str, [{"kind": "sweep"}, {"n": 1}, {"n": 2}])
    )
