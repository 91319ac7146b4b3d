"""Generated hostile requests against every operation of the served OpenAPI document.

Never a 5xx; every 4xx in the contract's envelope (code, English and Thai message); and nothing
stored is lost or half-written: afterwards every stored registration was answered with a 201 and
the places and counters still equal the registrations.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app  # noqa: F401 - importing the app declares its routes
from chalicelib.api.routes import ROUTES
from tests.hostile import strategies as hs

# Each call of these starts background work (a reconciliation run's 8 jobs, an allocation): ~0.5 s
# apiece on moto, so the reduced run sends 30 (the full run sends its 1,000 like the others).
SLOW = {"/v1/admin/reconcile", "/v1/admin/appointments/allocate"}
# Which token a staff operation is called with (the one that may call it, so its checks run).
ROLE_OF = {"counter": "counter", "org": "org", "site": "site", "admin": "admin"}


def assert_contract(resp: Any, what: str) -> None:
    assert resp.status_code < 500, (what, resp.status_code, resp.body[:300])
    if resp.status_code >= 400:
        envelope = json.loads(resp.body)
        error = envelope["error"]
        assert isinstance(error["code"], str) and re.fullmatch(r"[a-z_]+", error["code"]), (what, envelope)
        assert error["message"] and error["message_th"], (what, envelope)


def _schema_name(op: Any) -> str | None:
    return op.body.__name__ if op.body is not None else None


def _served_operations(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    doc = json.loads(client.http.get("/v1/openapi.json").body)
    return [(m, p, o) for p, ops in doc["paths"].items() for m, o in ops.items()]


@pytest.mark.parametrize("op", ROUTES, ids=[f"{o.method.upper()} {o.path}" for o in ROUTES])
def test_generated_requests_never_get_a_5xx_and_errors_keep_the_envelope(
    client: Any, tokens: dict[str, str], op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "/queue" in op.path:
        # The waiting room's routes with the waiting room on (the suites run with it off).
        from chalicelib.config import get_settings

        monkeypatch.setenv("WAITING_ROOM", "on")
        get_settings.cache_clear()
    doc = json.loads(client.http.get("/v1/openapi.json").body)
    served = doc["paths"][op.path][op.method]
    params = served.get("parameters", [])
    path_params = [p["name"] for p in params if p["in"] == "path"]
    query = [p["name"] for p in params if p["in"] == "query"]
    token = tokens[ROLE_OF[op.roles[0]]] if op.roles else None
    sent: Counter[int] = Counter()
    created: set[str] = set()

    @given(
        path=st.fixed_dictionaries(dict.fromkeys(path_params, hs.path_values)),
        query=st.dictionaries(st.sampled_from(query or ["x"]), hs.query_values, max_size=len(query) + 1),
        payload=hs.bodies(_schema_name(op), doc["components"]).flatmap(hs.encoded),
        content_type=hs.content_types,
        key=st.one_of(st.none(), hs.hostile_text),
        with_token=st.sampled_from([True, True, True, False]),
    )
    @settings(max_examples=min(30, settings.default.max_examples) if op.path in SLOW else settings.default.max_examples)
    def one(
        path: dict[str, str], query: dict[str, str], payload: bytes, content_type: str, key: Any, with_token: bool
    ) -> None:
        url = op.path.format(**path)
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        headers = {"Content-Type": content_type} if content_type else {}
        if token and with_token:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        data = payload if op.method in ("post", "put") else None
        resp = getattr(client.http, op.method)(url, body=data, headers=headers)
        assert_contract(resp, f"{op.method} {url}")
        sent[resp.status_code] += 1
        if resp.status_code == 201 and "registration_id" in json.loads(resp.body):
            created.add(json.loads(resp.body)["registration_id"])

    one()
    assert sum(sent.values()) >= settings.default.max_examples or op.path in SLOW
    stored_nothing_half_written(created)


def stored_nothing_half_written(created: set[str]) -> None:
    """Every stored registration was answered 201; places and counters equal the registrations."""
    from chalicelib.config import hmac_key
    from chalicelib.domain import rules
    from chalicelib.store.factory import stores

    st_ = stores()
    regs, _ = st_.registrations.page(None, None, 10_000)
    assert {r.registration_id for r in regs} == created
    counts = st_.quota.counts()
    confirmed = sum(1 for r in regs if r.status.value == "confirmed")
    assert counts.primary_used == confirmed  # taken, less given back, less this container's places in hand
    assert counts.reserve_active == sum(1 for r in regs if r.status.value == "reserve")
    for reg in regs:
        current = st_.registrations.current(rules.person_pointer(reg.national_id, hmac_key()))
        assert current is not None and current[0].registration_id == reg.registration_id


def test_every_served_operation_is_fuzzed(client: Any) -> None:
    served = {(m, p) for m, p, _ in _served_operations(client)}
    assert served == {(o.method, o.path) for o in ROUTES}
