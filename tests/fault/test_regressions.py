"""Bugs the fault injection found, each pinned by the smallest reproduction."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import get_settings
from chalicelib.domain.errors import Overloaded
from chalicelib.services import reconcile
from chalicelib.store.factory import stores
from tests.helpers import raising, register


def reconcile_twice(queues: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(reconcile, "LEAK_CONFIRM_SECONDS", 0)
    repaired: list[str] = []
    for _ in range(2):
        run_id = reconcile.start(full=False)
        queues.drain()
        findings = reconcile.status(run_id).findings
        assert findings is not None
        repaired += findings.repaired
    queues.drain()
    return repaired


def test_a_leaked_place_goes_to_the_reserve_when_someone_waits(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a request that died after taking the last primary place, and a person then on the reserve
    campaign_env(primary=2, reserve=2, shards=1)
    register(client, 1)
    assert stores().quota.take_primary()
    waiting = register(client, 2)
    assert waiting["status"] == "reserve"
    queues.drain()
    # When reconciliation sees the leak twice
    repaired = reconcile_twice(queues, monkeypatch)
    # Then the place went to reserve rank 1 (it could not go back to newcomers while they wait)
    assert "1 leaked places given to the reserve" in repaired
    assert client.http.get(f"/v1/registrations/{waiting['registration_id']}").json_body["status"] == "confirmed"
    counts = stores().quota.counts()
    assert (counts.primary_taken - counts.parked, counts.reserve_active) == (2, 0)


def test_an_abandoned_reserve_ticket_is_voided_and_ranks_behind_move_up(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a request that died after taking reserve ticket 1, and a person behind it
    campaign_env(primary=1, reserve=3, shards=1)
    register(client, 1)
    assert stores().quota.take_overflow() is not None
    behind = register(client, 2)
    assert behind["reserve_rank"] == 2
    queues.drain()
    # When reconciliation runs once the ticket is stale
    object.__setattr__(get_settings(), "stale_claim_seconds", 0)
    repaired = reconcile_twice(queues, monkeypatch)
    # Then the ticket left the reserve: the count is exact and the person behind is rank 1
    assert "1 abandoned reserve tickets voided" in repaired
    assert stores().quota.counts().reserve_active == 1
    assert client.http.get(f"/v1/registrations/{behind['registration_id']}").json_body["reserve_rank"] == 1


def test_a_throttled_token_table_answers_429_in_the_envelope_not_a_bare_500(
    client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the staff table throttled
    monkeypatch.setattr(stores().staff, "token", raising(Overloaded(retry_after=2)))
    # When a staff endpoint is called with a good token
    resp = client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {tokens['admin']}"})
    # Then the caller is told to retry, in the contract's envelope, and nothing ran unverified
    assert resp.status_code == 429
    assert resp.json_body["error"]["code"] == "rate_limited"
    assert "Retry-After" in resp.headers
