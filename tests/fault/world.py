"""One moto backend reused run after run: wiped between runs, the service's caches reset, the
injector hooked onto each new pair of clients, and the system's own recovery, then the invariants.

"Time passes" is simulated where the code waits for it: a crashed request's idempotency record
expires (as when its Lambda times out), a claim counts as stale at once, the sweeps look at
everything pending, and the leak confirmation of reconciliation needs no 180 s gap.
"""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.fault.harness import Injector, ProcessDied
from tests.helpers import JSON, body

RETRIED = {429, 500, 502, 503, 504}


@dataclass
class World:
    env: dict[str, str]
    client: Any
    queues: Any
    stand_ins: dict[str, Any]
    monkeypatch: pytest.MonkeyPatch
    injector: Injector
    raw_db: Any
    raw_sqs: Any
    tokens: dict[str, str] = field(default_factory=dict)
    # what the callers were told: (national ID, HTTP status, body)
    answers: list[tuple[str, int, Any]] = field(default_factory=list)
    # the people who asked for erasure, national ID -> phone (their items no longer hold them)
    erasing: dict[str, str] = field(default_factory=dict)
    _keys: dict[str, list[str]] = field(default_factory=dict)

    # -- state ------------------------------------------------------------------------------------

    def fresh(self, primary: int, reserve: int) -> None:
        """An empty campaign of ``primary`` + ``reserve`` places (one quota shard: call counts are
        then the same run after run), nothing queued, registries back to their seed."""
        for name in self.tables():
            if name not in self._keys:
                schema = self.raw_db.describe_table(TableName=name)["Table"]["KeySchema"]
                self._keys[name] = [k["AttributeName"] for k in schema]
            keys = self._keys[name]
            for page in self.raw_db.get_paginator("scan").paginate(TableName=name):
                for item in page["Items"]:
                    self.raw_db.delete_item(TableName=name, Key={k: item[k] for k in keys})
        for url in self.raw_sqs.list_queues().get("QueueUrls", []):
            # A message a crashed worker held is visible again at once (Lambda's retry, sooner).
            self.raw_sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
            while msgs := self.raw_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                for m in msgs:
                    self.raw_sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        for stand_in in (self.stand_ins["mor_phrom"], self.stand_ins["khon_kaen_phrom"]):
            from local.registries import seed_ids

            state = stand_in.state
            state.people = set(seed_ids(2 if state.name == "mor_phrom" else 3))
            state.removed.clear()
            state.calls = {"DELETE": 0, "GET": 0}
        self.monkeypatch.setenv("CAMPAIGN_PRIMARY_CAPACITY", str(primary))
        self.monkeypatch.setenv("CAMPAIGN_RESERVE_CAPACITY", str(reserve))
        self.monkeypatch.setenv("QUOTA_SHARDS", "1")
        self.reset()
        self.answers = []
        self.erasing = {}
        random.seed(7)
        from chalicelib.domain.staff import Role
        from chalicelib.services import staff

        self.tokens = {"org": staff.issue_token(Role.ORG, "Fault Co.")[0]}

    def reset(self) -> None:
        from chalicelib.caches import reset_caches
        from chalicelib.config import get_settings
        from chalicelib.store import clients

        reset_caches()
        # Time has passed beyond the stale window whenever the code looks (see the module doc).
        object.__setattr__(get_settings(), "stale_claim_seconds", 0)
        self.injector.install(clients.dynamodb())
        self.injector.install(clients.sqs())
        self.injector.install(clients.kms())

    def tables(self) -> list[str]:
        return [v for k, v in self.env.items() if k.endswith("_TABLE")]

    def items(self, env_name: str) -> list[dict[str, Any]]:
        from chalicelib.store.codec import decode

        found = []
        for page in self.raw_db.get_paginator("scan").paginate(TableName=self.env[env_name]):
            found.extend(decode(i) for i in page["Items"])
        if env_name == "REGISTRATIONS_TABLE":
            from chalicelib.store.factory import dynamo_stores

            # Stored under the person (or, superseded, under the code): the receipt code is ``code``;
            # the personal fields sealed (opened here with the data keys of this process).
            codec = dynamo_stores().registrations.codec
            found = [codec.opened(i) | {"registration_id": i.get("code", i["registration_id"])} for i in found]
        return found

    def time_passes(self) -> None:
        """A crashed request's in-progress idempotency record has expired (its Lambda timed out)."""
        table = self.env["IDEMPOTENCY_TABLE"]
        for page in self.raw_db.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if item.get("status", {}).get("S") == "INPROGRESS":
                    self.raw_db.update_item(
                        TableName=table,
                        Key={"id": item["id"]},
                        UpdateExpression="SET in_progress_expiration = :zero",
                        ExpressionAttributeValues={":zero": {"N": "0"}},
                    )

    # -- the callers ------------------------------------------------------------------------------

    def call(self, nid: str, method: str, path: str, data: Any, headers: dict[str, str]) -> tuple[int, Any]:
        """A caller that retries (same Idempotency-Key) on no answer, 429, 5xx and request_in_progress."""
        status, answer = 0, None
        for _ in range(5):
            try:
                resp = getattr(self.client.http, method)(path, body=json.dumps(data), headers={**JSON, **headers})
                status, answer = resp.status_code, resp.json_body
            except ProcessDied:
                status, answer = 0, None
            retry = status == 0 or status in RETRIED
            retry |= status == 409 and (answer or {}).get("error", {}).get("code") == "request_in_progress"
            if not retry:
                break
            self.time_passes()
        self.answers.append((nid, status, answer))
        return status, answer

    def register(self, n: int, keyed: bool = True) -> tuple[int, Any]:
        person = body(n)
        headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"} if keyed else {}
        return self.call(person["national_id"], "post", "/v1/registrations", person, headers)

    def cancel(self, registration_id: str) -> tuple[int, Any]:
        return self.call("", "post", f"/v1/registrations/{registration_id}/cancel", {"birth_date": "1980-01-31"}, {})

    def erase(self, registration_id: str, person: dict[str, Any]) -> tuple[int, Any]:
        national_id = person["national_id"]
        self.erasing[national_id] = person["phone"]
        return self.call(
            national_id, "post", f"/v1/registrations/{registration_id}/erase", {"birth_date": "1980-01-31"}, {}
        )

    def submit_batch(self, rows: list[Any]) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens['org']}", "Idempotency-Key": f"b-{uuid.uuid4()}"}
        return self.call("", "post", "/v1/org/batches", {"organisation": "Fault Co.", "rows": rows}, headers)

    def drain(self) -> None:
        """The queue handlers run until the queues are empty; a crash of one ends this turn."""
        with contextlib.suppress(ProcessDied):
            self.queues.drain()

    # -- recovery ---------------------------------------------------------------------------------

    def recover(self) -> None:
        """What runs by itself after a fault: redeliveries, the minute sweep, the org polling its
        batch, and reconciliation twice (a leak is given back only when seen twice)."""
        from chalicelib.services import batches, promotion, reconcile, removals

        self.monkeypatch.setattr(promotion, "SWEEP_AFTER_SECONDS", -60)
        self.monkeypatch.setattr(reconcile, "LEAK_CONFIRM_SECONDS", 0)
        self.monkeypatch.setattr(batches, "STALLED_AFTER", timedelta(0))
        self.monkeypatch.setattr(reconcile, "SEGMENTS", 1)  # a few items: one segment scans them all
        later = datetime.now(UTC) + timedelta(hours=1)
        self.time_passes()
        self.queues.drain()
        promotion.sweep()
        removals.sweep(later)
        for batch in self.items("BATCHES_TABLE"):
            if batch.get("sk") == "meta":
                self.poll_batch(batch["batch_id"])
        self.queues.drain()
        # Another run while the last saw drift: a leak or a statistics drift is repaired when seen
        # twice unchanged, and a run that itself settled an abandoned ticket was not a quiet one.
        for _ in range(3):
            run_id = reconcile.start(full=False)
            self.queues.drain()
            findings = reconcile.status(run_id).findings
            if not (findings and findings.drift):
                break
        promotion.sweep()
        removals.sweep(later)
        self.queues.drain()

    def batch_rows(self) -> list[Any]:
        """What each batch row came to (for failure messages)."""
        rows = []
        for item in self.items("BATCHES_TABLE"):
            if item.get("sk") == "meta":
                rows += [
                    (r["row"], r["outcome"], r.get("error", {}).get("code"))
                    for r in self.poll_batch(item["batch_id"])["results"]
                ]
        return rows

    def poll_batch(self, batch_id: str) -> Any:
        resp = self.client.http.get(
            f"/v1/org/batches/{batch_id}", headers={"Authorization": f"Bearer {self.tokens['org']}"}
        )
        return resp.json_body

    # -- what must hold ---------------------------------------------------------------------------

    def outcome(self) -> dict[str, Any]:
        """The end state, comparable between runs (no generated IDs in it)."""
        regs = self.items("REGISTRATIONS_TABLE")
        return {
            "people": sorted(Counter((r.get("national_id", "erased"), r["status"]) for r in regs).items()),
            "removed": {n: sorted(s.state.removed) for n, s in self.stand_ins.items() if n != "sms"},
        }

    def confirmed(self) -> list[str]:
        """The national IDs of everyone confirmed at the end."""
        return sorted(
            r.get("national_id", "erased") for r in self.items("REGISTRATIONS_TABLE") if r["status"] == "confirmed"
        )

    def check(self) -> None:
        """The invariants: nothing accepted is lost, every place is held by its registration, the
        counters equal the registrations, nobody is registered or removed twice, nothing left over."""
        from chalicelib.store.factory import stores

        regs = self.items("REGISTRATIONS_TABLE")
        by_id = {r["registration_id"]: r for r in regs}
        status = Counter(r["status"] for r in regs)
        # No lost registration: every 201 (and every row outcome) is stored, in a state it can reach.
        for nid, code, answer in self.answers:
            if code == 201:
                assert answer["registration_id"] in by_id, answer
            if code == 409 and answer["error"]["code"] == "already_registered":
                assert any(r["national_id"] == nid and r["status"] != "cancelled" for r in regs), nid
        # An erasure answered is done, in one piece: every personal field or none, and none once erased.
        personal = {"national_id", "first_name", "last_name", "birth_date", "phone", "detail"}
        for r in regs:
            assert set(r) & personal == (set() if "erased_at" in r else personal), r["registration_id"]
        for nid, code, answer in self.answers:
            if code == 200 and nid in self.erasing:
                erased = by_id[answer["registration_id"]]
                assert "erased_at" in erased and erased["status"] == "cancelled", erased
        # Nobody twice.
        active = Counter(r["national_id"] for r in regs if r["status"] != "cancelled")
        assert all(n == 1 for n in active.values()), active
        # No leaked place, exact counts.
        st = stores()
        counts = st.quota.counts()
        assert counts.primary_taken - counts.parked == status["confirmed"], (counts, status)
        assert counts.reserve_active == status["reserve"], (counts, status)
        assert not any(r.get("release_pending") for r in regs), "a place still waits to be handed on"
        stats = st.statistics.stats()
        for s in ("confirmed", "reserve", "cancelled"):
            assert stats.get(f"status_{s}", 0) == status[s], (s, stats, status)
        # Each phone's counts (its active app registrations, the different people it registered) are
        # never low: a phone's limits hold whatever fails. A share is taken before its registration,
        # so a run that dies between the two (one fault a run) leaves the phone one too many.
        from chalicelib.config import verification_keys
        from chalicelib.domain.verification import phone_hash

        on_phone = Counter(r["phone"] for r in regs if r["channel"] == "app" and r["status"] != "cancelled")
        # An erased person's item holds no phone and no ID; their phone still counts them (World.erase).
        people = {(r["phone"], r["national_id"]) for r in regs if r["channel"] == "app" and "phone" in r}
        people |= {(phone, nid) for nid, phone in self.erasing.items()}
        for phone in {r["phone"] for r in regs if "phone" in r}:
            key = phone_hash(phone, verification_keys())
            assert on_phone[phone] <= st.phones.count(key) <= on_phone[phone] + 1, phone
            ever = sum(1 for p, _ in people if p == phone)
            assert ever <= st.phones.people(key) <= ever + 1, phone
        channels = Counter(r["channel"] for r in regs)
        for c in ("app", "counter", "org"):
            assert stats.get(f"channel_{c}", 0) == channels[c], (c, stats, channels)
        # Each confirmed person removed from both registries, once; nobody else removed.
        for name, stand_in in self.stand_ins.items():
            if name == "sms":
                continue
            removed = stand_in.state.removed
            assert len(removed) == len(set(removed)), (name, removed)
            was_confirmed = {
                r["national_id"]
                for r in regs
                if "national_id" in r
                and (r["status"] == "confirmed" or r.get("promoted_by") or r.get("held") == "primary")
            } | set(self.erasing)  # an erased person was confirmed (removed) before their ID went
            assert set(removed) <= was_confirmed, name
            for r in regs:
                if r["status"] == "confirmed":
                    assert r[f"rm_{name}"] in ("removed", "not_found"), (name, r["registration_id"])
        # Every batch row has its outcome, and every row said registered is.
        for item in self.items("BATCHES_TABLE"):
            if item.get("sk") == "meta":
                done = self.poll_batch(item["batch_id"])
                assert done["status"] == "done", done
                for row in done["results"]:
                    if row["outcome"] in ("confirmed", "reserve"):
                        assert row["registration_id"] in by_id, row
        # Nothing left queued or dead-lettered.
        for url in self.raw_sqs.list_queues().get("QueueUrls", []):
            attrs = self.raw_sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, url


def make_world(
    env: dict[str, str], client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> World:
    region = env.get("AWS_REGION") or "ap-southeast-1"
    raw_db = boto3.client("dynamodb", region_name=region)
    raw_sqs = boto3.client("sqs", region_name=region)
    return World(env, client, queues, stand_ins, monkeypatch, Injector(raw_db), raw_db, raw_sqs)


Flow = Callable[[World], None]
