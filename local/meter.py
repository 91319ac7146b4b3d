"""The AWS requests each registration path makes, and the background's, counted in the served
stack (``LOCAL_METER=1``; ``make bench`` sets it and reads ``GET /_local/meter``).

A request is counted on the thread that serves it, and classified by its answer: ``confirmed``,
``reserve``, ``refused_full``, ``repeat`` (already registered), ``invalid`` (400/422); a phone
verification's requests by their route (``verification_start``, ``verification_confirm``), and the
waiting room's (``queue_join``, ``queue_status``, ``queue_ticket``, ``queue_admission``). Calls made
on the background workers' threads (queue handlers, schedules, the driver's own receives and deletes,
as Lambda's pollers would) are the background's, and so is a removal list that leaves with a request
(``services.removals.note``: one message per 500 confirmations or 5 seconds, carried by whichever
request comes next): it is the fan-out of the background it starts, counted with it. The calls
that take a data key of field encryption (``store/datakeys.py``: KMS, and the campaign table's
``datakey#`` items) are counted apart, as ``data_keys``: a container makes them once a period (an
hour), whichever request happens to come first, so they belong to no path. The partition keys
every DynamoDB call lands on are counted too (``local.keys``; the ``datakey#`` items' among them),
in phases (``keys.phase``, which ``POST /_local/meter {"phase": …}`` starts). Local stack only:
nothing here is deployed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import boto3

from local import keys
from local.driver import WORKERS

_local = threading.local()
_lock = threading.Lock()
_paths: dict[str, Counter[str]] = {}
_background: Counter[str] = Counter()
_data_keys: Counter[str] = Counter()
REGISTRATION_PATHS = ("/v1/registrations", "/v1/counter/registrations")
# The verification phase's two requests, counted apart (``verification_start``, ``verification_confirm``).
VERIFICATION_PATH = "/v1/verifications"
# The waiting room's (contract v1.2): ``queue_join`` (POST), ``queue_status`` (the shared GET), and a
# ticket's GET, ``queue_ticket``, or ``queue_admission`` when its answer carries the admission token.
QUEUE_PATH = "/v1/queue"


def install() -> None:
    """Count every AWS call of every client made from here on (the default session's events)."""
    boto3.setup_default_session()
    events = boto3._get_default_session().events
    events.register("before-call.*.*", _on_call)
    events.register("after-call.sqs.ReceiveMessage", _on_receive)
    keys.install(events)


def _on_receive(parsed: dict[str, Any], **_: Any) -> None:
    # The driver polls every queue all the time, as Lambda's pollers do; a receive that brings
    # work is the background's, an empty one (idle time) is counted apart.
    key = "sqs.ReceiveMessage" if parsed.get("Messages") else "idle.sqs.ReceiveMessage"
    if threading.current_thread().name.startswith(WORKERS):
        with _lock:
            _background[key] += 1


def _on_call(event_name: str, params: dict[str, Any] | None = None, **_: Any) -> None:
    operation = event_name.split(".", 1)[1]
    if takes_a_data_key(operation, params):
        with _lock:
            _data_keys[operation] += 1
        return
    calls: Counter[str] | None = getattr(_local, "calls", None)
    if operation == "sqs.ReceiveMessage" and calls is None:
        return  # counted after the call, by what it brought
    if calls is not None and operation == "sqs.SendMessage" and _to_removals(params):
        with _lock:
            _background["removal_list.sqs.SendMessage"] += 1
    elif calls is not None:
        calls[operation] += 1
    elif threading.current_thread().name.startswith(WORKERS):  # the workers, and their pools
        with _lock:
            _background[operation] += 1


def takes_a_data_key(operation: str, params: dict[str, Any] | None) -> bool:
    if operation.startswith("kms."):
        return True
    return operation.startswith("dynamodb.") and b'"datakey#' in _body(params)


def _body(params: dict[str, Any] | None) -> bytes:
    body = (params or {}).get("body") or b""
    return body if isinstance(body, bytes) else str(body).encode()


def _to_removals(params: dict[str, Any] | None) -> bool:
    raw = _body(params)
    return b"-removals" in raw and b"codes" in raw


def begin(method: str, path: str) -> bool:
    route = path.split("?")[0]
    if route == QUEUE_PATH or route.startswith(QUEUE_PATH + "/"):
        return _begin_queue(method, route)
    if method != "POST":
        return False
    if route in REGISTRATION_PATHS:
        _local.kind = None  # classified by the answer
    elif route == VERIFICATION_PATH:
        _local.kind = "verification_start"
    elif route.startswith(VERIFICATION_PATH + "/") and route.endswith("/confirm"):
        _local.kind = "verification_confirm"
    else:
        return False
    _local.calls = Counter()
    return True


def _begin_queue(method: str, route: str) -> bool:
    if method == "POST" and route == QUEUE_PATH:
        _local.kind = "queue_join"
    elif method == "GET" and route == QUEUE_PATH:
        _local.kind = "queue_status"
    elif method == "GET":
        _local.kind = "queue_ticket"  # or queue_admission, by the answer
    else:
        return False
    _local.calls = Counter()
    return True


def end(response: dict[str, Any]) -> None:
    calls: Counter[str] = getattr(_local, "calls", None) or Counter()
    _local.calls = None
    kind = getattr(_local, "kind", None) or _kind(int(response.get("statusCode", 0)), str(response.get("body") or ""))
    if kind == "queue_ticket" and '"admission_token"' in str(response.get("body") or ""):
        kind = "queue_admission"  # the read that admits (its token minted, its write if any)
    with _lock:
        path = _paths.setdefault(kind, Counter())
        path["requests"] += 1
        for operation, n in calls.items():
            path[operation] += n


def _kind(status: int, body: str) -> str:
    if status in (400, 422):
        return "invalid"
    try:
        data = json.loads(body)
    except ValueError:
        return "other"
    if status == 201:
        return "confirmed" if data.get("status") == "confirmed" else "reserve"
    code = (data.get("error") or {}).get("code")
    return {"registration_full": "refused_full", "already_registered": "repeat"}.get(code, "other")


def report() -> dict[str, Any]:
    with _lock:
        paths = {k: Counter(v) for k, v in _paths.items()}
        background = Counter(_background)
        data_keys = Counter(_data_keys)
    busy = sum(v for k, v in background.items() if not k.startswith("idle."))
    out: dict[str, Any] = {
        "paths": {},
        "background": {"aws_requests": busy, **background},
        "data_keys": {"aws_requests": sum(data_keys.values()), **data_keys},
        "keys": keys.report(),
    }
    for kind, counts in paths.items():
        n = counts.pop("requests")
        out["paths"][kind] = {
            "requests": n,
            "aws_requests_per_request": sum(counts.values()) / n if n else 0.0,
            "scans_and_queries": counts.get("dynamodb.Scan", 0) + counts.get("dynamodb.Query", 0),
            "by_operation": dict(sorted(counts.items())),
        }
    return out


def bare_puts(client: Any, table: str, n: int) -> float:
    """Bare conditional PutItems per second on this engine (the yardstick of the throughput ratio)."""
    stamp = time.time_ns()
    start = time.perf_counter()
    for i in range(n):
        client.put_item(
            TableName=table,
            Item={"pk": {"S": f"bench#{stamp}#{i}"}, "v": {"N": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    return n / (time.perf_counter() - start)
