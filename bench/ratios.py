"""The ratios of `make bench`.

From the campaign run itself (``of_campaign``, the served stack counts them, ``local/meter.py``):
AWS requests per registration path (confirmed, reserve, refused because full, a repeated person,
invalid) and of the background per confirmation, averaged over the whole mix; registrations per
second while places remained over bare conditional PutItems per second on the same engine.
Measured here against an in-process local engine, sequentially:
(a) AWS requests per accepted registration, counted with botocore's event hooks;
(b) a full registration request over HTTP / one bare conditional PutItem on the same engine;
(c) import time of ``app`` / import time of a bare Chalice hello-world app.
Medians over repeated runs; ratios rather than seconds because the machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
REGISTRATIONS = int(os.environ.get("BENCH_REGISTRATIONS", "300"))
BACKGROUND_SAMPLE = 20


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it, roughly: names plus values (numbers ~ their digits)."""
    size = 0
    for name, val in item.items():
        size += len(name.encode())
        kind, raw = next(iter(val.items()))
        if kind in ("S", "N"):
            size += len(str(raw).encode())
        elif kind == "B":
            size += len(raw)
        elif kind == "BOOL":
            size += 1
        elif kind == "M":
            size += 3 + item_bytes(raw)
        elif kind in ("SS", "NS"):
            size += sum(len(str(x).encode()) for x in raw)
        else:
            size += len(json.dumps(raw))
    return size


def import_seconds(module: str, cwd: Path) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def import_ratio() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp)
        (hello / "hello_app.py").write_text(
            "from chalice import Chalice\napp = Chalice(app_name='hello')\n\n"
            "@app.route('/')\ndef index():\n    return {'hello': 'world'}\n"
        )
        import_seconds("hello_app", hello)  # warm the bytecode caches of both
        import_seconds("app", ROOT)
        ours: list[float] = []
        bare: list[float] = []
        # Interleaved, one of each in turn, so that the machine's noise falls on both alike; at least
        # 9 of each (a fresh interpreter's import time varies by tens of percent on a shared machine).
        for _ in range(max(REPEATS, 9)):
            bare.append(import_seconds("hello_app", hello))
            ours.append(import_seconds("app", ROOT))
    return {
        "import_app_s": statistics.median(ours),
        "import_hello_chalice_s": statistics.median(bare),
        "import_ratio": statistics.median(ours) / statistics.median(bare),
    }


def _empty(sqs: Any, url: str) -> None:
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def _scan(db: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = db.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def measure() -> dict[str, Any]:
    """Figures (a), (b), (c); the local stack runs in this process, without its workers."""
    os.environ["CAMPAIGN_PRIMARY_CAPACITY"] = str(REGISTRATIONS // 2 + BACKGROUND_SAMPLE)
    os.environ["CAMPAIGN_RESERVE_CAPACITY"] = str(REGISTRATIONS)
    import requests

    from bench import people
    from local.meter import takes_a_data_key
    from local.stack import LocalStack

    figures: dict[str, Any] = {"registrations": REGISTRATIONS, "repeats": REPEATS}
    # No background workers: the figures are of the request path alone (on AWS the queue
    # handlers are other Lambda functions and do not share the API's CPU).
    with LocalStack(stage="bench", workers=False) as stack:
        from chalicelib.store import clients

        calls: Counter[str] = Counter()

        def count(event_name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
            operation = event_name.split(".", 1)[1]
            # The server's calls, not the bench's; a data key's, once a container and hour, on no path.
            if threading.current_thread() is not threading.main_thread() and not takes_a_data_key(operation, params):
                calls[operation] += 1

        # The driver's own SQS client too: its receives and deletes are what Lambda's poller does.
        for client in (clients.dynamodb(), clients.sqs(), stack.workers.queues._sqs):
            client.meta.events.register("before-call.*.*", count)

        from chalicelib.config import admission_key, verification_keys
        from chalicelib.domain.queue.standing import sign_admission
        from chalicelib.domain.verification import phone_hash, sign_token

        # Phone verification and the waiting room are on (the defaults): the request path includes
        # both tokens' checks (no AWS call). Each person has a phone of their own (at most 4
        # registrations a phone), with its tokens, as the phone's verification and its admission gave them.
        expires = int(time.time()) + 3600

        def body(n: int) -> dict[str, Any]:
            phone = f"08{n % 100_000_000:08d}"
            token = sign_token(phone, expires, verification_keys())
            admission = sign_admission(phone_hash(phone, verification_keys()), expires, admission_key())
            return {**people.body(n, phone=phone), "verification_token": token, "admission_token": admission}

        session = requests.Session()
        # An Idempotency-Key on every request, as the public page sends it.
        session.headers["Idempotency-Key"] = "bench-ratios"
        session.hooks["response"] = [lambda r, *a, **k: session.headers.update({"Idempotency-Key": uuid.uuid4().hex})]
        url = f"{stack.url}/v1/registrations"
        session.post(url, json=body(10_000_000), timeout=30)  # warm: first gate write, first connections
        db = clients.dynamodb()
        table = os.environ["CAMPAIGN_TABLE"]
        # The background work one confirmation causes (two removal jobs), counted on a worker thread.
        for n in range(BACKGROUND_SAMPLE):
            session.post(url, json=body(20_000_000 + n), timeout=30)
        calls.clear()
        drain = threading.Thread(target=stack.workers.queues.drain, name="bench-drain")
        drain.start()
        drain.join()
        # A small sample (one sweep batch): the campaign's figure over every confirmation is the target's.
        figures["background_sample_aws_requests_per_confirmation"] = sum(calls.values()) / BACKGROUND_SAMPLE
        figures["background_sample_aws_requests_by_operation"] = dict(sorted(calls.items()))
        calls.clear()
        request_times: list[float] = []
        put_times: list[float] = []
        accepted = 0
        # Interleaved, one request then one bare put, so that the machine's noise falls on both alike.
        sqs = clients.sqs()
        removal_queue = sqs.get_queue_url(QueueName="kkreg-bench-removals")["QueueUrl"]
        for n in range(REGISTRATIONS):
            if n % 20 == 0:
                # No workers run, and moto's SendMessage costs grow with the queue's depth (it counts
                # every message): empty it between measurements, as the removal workers would.
                _empty(sqs, removal_queue)
            t = time.perf_counter()
            resp = session.post(url, json=body(n), timeout=30)
            request_times.append(time.perf_counter() - t)
            accepted += resp.status_code == 201
            t = time.perf_counter()
            db.put_item(
                TableName=table,
                Item={"pk": {"S": f"bench#{n}"}, "v": {"N": "1"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            put_times.append(time.perf_counter() - t)
        figures["aws_requests_per_accepted_registration"] = sum(calls.values()) / accepted
        figures["aws_requests_by_operation"] = dict(sorted(calls.items()))
        figures["registration_request_median_s"] = statistics.median(request_times)
        figures["bare_conditional_put_median_s"] = statistics.median(put_times)
        figures["request_to_put_ratio"] = statistics.median(request_times) / statistics.median(put_times)
        figures["item_bytes"] = {
            "registration": max(item_bytes(i) for i in _scan(db, os.environ["REGISTRATIONS_TABLE"])),
            "person": max((item_bytes(i) for i in _scan(db, os.environ["PEOPLE_TABLE"])), default=0),
            "campaign_stats_shard": max(
                (item_bytes(i) for i in _scan(db, table) if i["pk"]["S"].startswith("stats#")), default=0
            ),
            "campaign_gate": max(item_bytes(i) for i in _scan(db, table) if i["pk"]["S"] == "gate"),
        }

    figures.update(import_ratio())
    return figures


def of_campaign(c: dict[str, Any]) -> dict[str, Any]:
    """The issue's ratios, from the campaign run (the whole mix, the real background)."""
    # The registration paths (the verification phase's routes are reported with that phase).
    paths = {k: v for k, v in c.get("aws_requests", {}).get("paths", {}).items() if not k.startswith("verification_")}
    return {
        "aws_requests_per_path": {k: v["aws_requests_per_request"] for k, v in sorted(paths.items())},
        "scans_and_queries_on_request_paths": sum(v["scans_and_queries"] for v in paths.values()),
        "background_aws_requests_per_confirmation": c.get("background_aws_requests_per_confirmation"),
        "background_aws_requests_by_operation": {
            k: v for k, v in c.get("aws_requests", {}).get("background", {}).items() if k != "aws_requests"
        },
        "throughput_vs_bare_put": c.get("throughput_vs_bare_put"),
    }


def report(figures: dict[str, Any]) -> None:
    print(f"(a) AWS requests per accepted registration: {figures['aws_requests_per_accepted_registration']:.2f}")
    print(f"    by operation: {figures['aws_requests_by_operation']}")
    print(f"    per path (campaign mix): {figures.get('aws_requests_per_path')}")
    print(f"    scans and queries on request paths: {figures.get('scans_and_queries_on_request_paths')}")
    print(
        f"    background per confirmation (campaign): {figures.get('background_aws_requests_per_confirmation')}"
        f" {figures.get('background_aws_requests_by_operation')}"
    )
    print(f"    throughput vs bare conditional put: {figures.get('throughput_vs_bare_put')}")
    print(f"    item sizes (bytes, largest seen): {figures['item_bytes']}")
    print(
        f"(b) registration request / bare conditional PutItem: {figures['request_to_put_ratio']:.1f}x"
        f"  ({figures['registration_request_median_s'] * 1000:.2f} ms"
        f" / {figures['bare_conditional_put_median_s'] * 1000:.2f} ms)"
    )
    print(
        f"(c) import app / import bare Chalice app: {figures['import_ratio']:.1f}x"
        f"  ({figures['import_app_s'] * 1000:.0f} ms / {figures['import_hello_chalice_s'] * 1000:.0f} ms)"
    )
