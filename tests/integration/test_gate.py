"""The gate stays small and the reserve keeps working whatever is sent (issue 21): a phone over a
limit writes nothing shared, no exit leaves a mark on the gate, and a rank read does not grow with
the tickets issued."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from chalicelib.domain.errors import PhoneLimitReached
from chalicelib.domain.models import Channel, RegistrationRequest, Status
from chalicelib.services import cancellations, lookups, registrations
from chalicelib.store.factory import stores
from tests.helpers import Calls, body, campaign_table

OTHER_PHONE = "0898765432"
# Every over-limit attempt is one read and writes nothing (asserted per attempt below), so the gate
# after 20,000 is the gate after 1,000; `make test-full` (KKREG_FULL=1) sends the 20,000 anyway.
ATTEMPTS = 20_000 if os.environ.get("KKREG_FULL") == "1" else 1_000
GATE_LIMIT_BYTES = 4096


def _register(n: int, phone: str | None = None, channel: Channel = Channel.APP) -> Any:
    changes = {"phone": phone} if phone else {}
    return registrations.register(RegistrationRequest.model_validate(body(n, **changes)), channel)


def _gate() -> dict[str, Any]:
    return dict(campaign_table().get("gate"))


def _size(item: dict[str, Any]) -> int:
    """An upper bound of the item's stored size: its JSON with every number as text."""
    return len(json.dumps(item, default=str, ensure_ascii=False).encode("utf-8"))


@pytest.fixture
def reserve_phase(aws: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One primary place, taken; the reserve open (limits: one active app registration a phone)."""
    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", "1")
    monkeypatch.setenv("PHONE_LIFETIME_LIMIT", "6")
    campaign_env(primary=1, reserve=ATTEMPTS + 100, shards=1)
    assert _register(0, OTHER_PHONE).status is Status.CONFIRMED


def test_over_limit_attempts_in_the_reserve_phase_leave_the_gate_as_it_was(reserve_phase: None) -> None:
    # Given a person on the reserve through a phone now at its limit
    assert _register(1).reserve_rank == 1
    gate = _gate()
    calls = Calls()
    # When that phone sends many different people (the service, as the API calls it)
    for n in range(100, 100 + ATTEMPTS):
        with pytest.raises(PhoneLimitReached):
            _register(n)
    # Then each attempt was one request, a read: nothing written, the gate least of all
    assert set(calls.made) == {"BatchGetItem"} and len(calls.made) == ATTEMPTS, set(calls.made)
    assert _gate() == gate and _size(gate) < GATE_LIMIT_BYTES
    # And the reserve keeps working: the next newcomers, on the app and at the counter, join it in order
    assert _register(2, "0833333333").reserve_rank == 2
    assert _register(3, "0811111111", Channel.COUNTER).reserve_rank == 3


def test_tickets_given_back_leave_no_mark_on_the_gate(reserve_phase: None) -> None:
    # Given 520 tickets taken (three blocks of the exit record), then given back one by one: what an
    # over-limit attempt used to do to the gate, each time
    st = stores()
    tickets = []
    for _ in range(520):
        overflow = st.quota.take_overflow({})
        assert overflow is not None and overflow.ticket is not None
        tickets.append(overflow.ticket)
    # When each leaves the reserve (twice: a retried exit counts once)
    for ticket in tickets + tickets[:50]:
        st.reserve.reserve_exit(f"ticket-{ticket}", ticket)
    # Then the gate holds one number per block of 256 tickets, not one mark per exit, and is small
    gate = _gate()
    assert _size(gate) < GATE_LIMIT_BYTES
    assert gate["ra"] == 0 and gate["xb"] == {"0": 256, "1": 256, "2": 8}
    # And the reserve keeps working: the next person is rank 1
    assert _register(1).reserve_rank == 1


def test_a_rank_read_is_two_items_however_many_tickets_left(reserve_phase: None) -> None:
    # Given 599 tickets issued and given back (three blocks of exits, as their exits leave them), and
    # one more person on the reserve
    table = campaign_table()
    for block, (first, last_) in enumerate(((1, 256), (257, 512), (513, 599))):
        table.overwrite({"pk": f"rexit#{block}", "t": set(range(first, last_ + 1)), "n": last_ - first + 1})
    xb = {"0": 256, "1": 256, "2": 87}
    table.overwrite({"pk": "gate", "ra": 0, "seq": 599, "parked": 0, "xb": xb})
    last = _register(1)
    assert last.reserve_rank == 1
    calls = Calls()
    # When the last one's registration is read
    again = lookups.get(last.registration_id)
    # Then its rank is right, read with the gate and its own block only
    assert again.reserve_rank == 1
    reads = [p for op, p in zip(calls.made, calls.params, strict=True) if op == "BatchGetItem"]
    assert len(reads) == 1
    assert sum(len(t["Keys"]) for t in reads[0]["RequestItems"].values()) == 2


def test_an_exit_whose_gate_write_was_lost_is_taken_off_by_the_next_exit_of_its_block(reserve_phase: None) -> None:
    # Given two tickets, the first's exit recorded but its gate write lost (its run died)
    st = stores()
    tickets = [_register(n, phone).registration_id for n, phone in ((1, "0811111111"), (2, "0822222222"))]
    st_table = campaign_table()
    st_table.update(("rexit#0",), "ADD t :ts, n :one", None, {":ts": {1}, ":one": 1})
    assert st.quota.counts().reserve_active == 2
    # When the second leaves the reserve
    second = st.registrations.get(tickets[1])
    assert second is not None and second.ticket == 2
    st.reserve.reserve_exit(second.registration_id, 2)
    # Then both exits are taken off, once, and a retried first exit changes nothing
    assert st.quota.counts().reserve_active == 0
    st.reserve.reserve_exit("ticket-1", 1)
    assert st.quota.counts().reserve_active == 0 and _gate()["xb"] == {"0": 2}


def test_an_exit_no_later_exit_made_good_is_taken_off_by_reconciliation(
    reserve_phase: None, queues: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.reserve import ReserveStore
    from tests.helpers import reconciled

    # Given a person on the reserve who cancels, the exit's gate write lost (its run died)
    waiting = _register(1)
    with monkeypatch.context() as lost:
        lost.setattr(ReserveStore, "_take_off", lambda *a, **k: 0)
        cancellations.cancel(waiting.registration_id, "1980-01-31")
    assert stores().quota.counts().reserve_active == 1
    # When reconciliation runs / Then the exit is taken off the active count, once
    findings = reconciled(queues)
    assert "1 reserve exits taken off the active count" in findings["repaired"]
    assert stores().quota.counts().reserve_active == 0
    assert not [r for r in reconciled(queues)["repaired"] if "reserve" in r]
