"""Test data and steps shared by the suites: valid Thai national IDs, registration bodies, registering."""

from __future__ import annotations

import copy
import json
from typing import Any

from chalicelib.domain.rules import thai_id_check_digit

BASE_BODY: dict[str, Any] = {
    "national_id": "1101700230708",
    "first_name": "สมชาย",
    "last_name": "ใจดี",
    "birth_date": "1980-01-31",
    "phone": "0812345678",
    "eligibility": {"basis": "house_registration", "detail": "12 ถ.หน้าเมือง ต.ในเมือง"},
    "consent": True,
}


def national_id(n: int) -> str:
    """The n-th valid national ID of a test run (distinct for distinct n)."""
    first12 = f"1{n:011d}"
    return first12 + str(thai_id_check_digit(first12))


def body(n: int | None = None, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_BODY)
    if n is not None:
        data["national_id"] = national_id(n)
    data.update(changes)
    return data


JSON = {"Content-Type": "application/json"}


def post_registration(client: Any, n: int, **changes: Any) -> Any:
    """The answer to registering the n-th test person through the app (``chalice.test`` client)."""
    return client.http.post("/v1/registrations", body=json.dumps(body(n, **changes)), headers=JSON)


def register(client: Any, n: int, **changes: Any) -> dict[str, Any]:
    """Register the n-th test person through the app; the registration resource (201 asserted)."""
    resp = post_registration(client, n, **changes)
    assert resp.status_code == 201, resp.body
    return dict(resp.json_body)


class Clock:
    """A clock the test moves (``waiting_room.clock`` and the like): called, it says the time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, moment: float) -> None:
        self.now = moment

    def passes(self, seconds: float) -> None:
        self.now += seconds


def raising(exc: BaseException) -> Any:
    """A stand-in for a store method that fails (a throttle, a crash) whatever it is called with."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


def deployed_rest_api(apigw: Any) -> str:
    """The ID of a REST API named as the app, with one method and the stage ``api``, as `chalice deploy` leaves it."""
    from infra import policies

    api = str(apigw.create_rest_api(name=policies.APP_NAME)["id"])
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api, stageName="api")
    return api


def campaign_item(pk: str) -> dict[str, Any]:
    """An item of the campaign table as stored (engine-backed suites that check the layout itself)."""
    return dict(campaign_table().get(pk))


def campaign_table() -> Any:
    """The campaign table, wrapped as the stores wrap it (engine-backed suites only)."""
    from chalicelib.config import get_settings
    from chalicelib.store import clients
    from chalicelib.store.table import Table

    return Table(clients.dynamodb(), get_settings().campaign_table, ("pk",))


def gateway_event(resource: str, path: str | None = None, method: str = "GET") -> dict[str, Any]:
    """An API Gateway proxy event as it reaches the Lambda function (``path``: as asked, stage prefix included)."""
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": resource, "path": path or resource, "httpMethod": method, "stage": "api"},
        "body": None,
        "isBase64Encoded": False,
    }


def reconciled(queues: Any) -> dict[str, Any]:
    """Run a reconciliation (not full) to its end, its jobs handled through ``queues``; its findings."""
    from chalicelib.services import reconcile

    run_id = reconcile.start(full=False)
    queues.drain()
    findings = reconcile.status(run_id).findings
    assert findings is not None
    return findings.model_dump()


def raw_bytes(item: dict[str, Any]) -> bytes:
    """Every value of a raw DynamoDB item (as a client's scan gives it) as the bytes stored: text
    as UTF-8, binary values as they are, maps and lists through. What a table export holds."""
    parts: list[bytes] = []

    def walk(value: dict[str, Any]) -> None:
        ((kind, raw),) = value.items()
        if kind in ("S", "N"):
            parts.append(str(raw).encode("utf-8"))
        elif kind == "B":
            parts.append(bytes(raw))
        elif kind in ("SS", "NS"):
            parts.extend(str(x).encode("utf-8") for x in raw)
        elif kind == "BS":
            parts.extend(bytes(x) for x in raw)
        elif kind == "M":
            for name, inner in raw.items():
                parts.append(name.encode("utf-8"))
                walk(inner)
        elif kind == "L":
            for inner in raw:
                walk(inner)

    for name, value in item.items():
        parts.append(name.encode("utf-8"))
        walk(value)
    return b"\x00".join(parts)


class Calls:
    """The AWS requests the service's own clients make (botocore's event hooks): ``made`` the
    operations, ``tables`` (operation, table suffix), ``params`` each request's parameters."""

    def __init__(self) -> None:
        from chalicelib.store import clients

        self.made: list[str] = []
        self.tables: list[tuple[str, str]] = []
        self.params: list[dict[str, Any]] = []
        for c in (clients.dynamodb(), clients.sqs()):
            c.meta.events.register("before-parameter-build.*.*", self._count)

    def _count(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.split(".", 2)[2]
        self.made.append(operation)
        self.tables.append((operation, str(params.get("TableName", "")).rsplit("-", 1)[-1]))
        self.params.append(params)

    def clear(self) -> None:
        self.made.clear()
        self.tables.clear()
        self.params.clear()
