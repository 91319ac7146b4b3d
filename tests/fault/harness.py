"""Fault injection at the AWS calls the service makes, through botocore's event hooks.

An ``Injector`` is hooked onto the three clients of ``chalicelib.store.clients`` (every store and the
idempotency layer use the first two, the data keys of field encryption the KMS one; the queue driver
and the checks use clients of their own, so Lambda's plumbing is never faulted). It numbers each AWS
call of a flow and makes call ``k`` fail one way:

- ``throttle``     the call is refused (ProvisionedThroughputExceeded / ThrottlingException) after
                   the SDK's own retries: nothing applied;
- ``unavailable``  the connection fails (EndpointConnectionError): nothing applied;
- ``timeout``      the call IS applied but its answer is lost (ReadTimeoutError after the call);
- ``condition``    a conditional write loses a race (ConditionalCheckFailed, with the item as it is;
                   not create-only puts, which fail only if the item exists); off, see FAKE_LOST_RACES;
- ``rejected``     SQS answers a SendMessageBatch with every entry in ``Failed``;
- ``crash``        the process dies right after the call (``ProcessDied``, a BaseException that no
                   ``except Exception`` in the service can swallow): nothing after it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

# Off: a faked ConditionalCheckFailed makes states the system cannot reach (an idempotency mark
# read as "applied" when it was not, so an exit or a give-back is never counted). Races that are
# really lost are covered by tests/race and by duplicate delivery (tests/fault/test_duplicates.py).
FAKE_LOST_RACES = False
KINDS = ("crash", "throttle", "unavailable", "timeout", "condition", "rejected")


class ProcessDied(BaseException):
    """The Lambda died between two AWS calls."""


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    conditional: bool

    def kinds(self) -> tuple[str, ...]:
        """The fault kinds that can happen to this call."""
        found = ["crash", "throttle", "unavailable", "timeout"]
        if self.conditional and FAKE_LOST_RACES:
            found.append("condition")
        if self.operation == "SendMessageBatch":
            found.append("rejected")
        return tuple(found)


@dataclass
class Injector:
    """Counts the AWS calls made while armed and fails the ``target`` one (index, kind)."""

    raw_dynamodb: Any
    calls: list[Call] = field(default_factory=list)
    target: tuple[int, str] | None = None
    armed: bool = False
    fired: bool = False
    _hooked: set[int] = field(default_factory=set)
    _api_params: dict[str, Any] = field(default_factory=dict)

    def install(self, client: Any) -> None:
        if id(client) in self._hooked:
            return
        self._hooked.add(id(client))
        client.meta.events.register_first("before-parameter-build.*.*", self._params)
        client.meta.events.register_first("before-call.*.*", self._before)
        client.meta.events.register_first("after-call.*.*", self._after)

    def arm(self, target: tuple[int, str] | None) -> None:
        self.calls, self.target, self.armed, self.fired = [], target, True, False

    def disarm(self) -> None:
        self.armed = False

    def _hit(self, kinds: tuple[str, ...]) -> str | None:
        if not self.armed or self.target is None or self.fired:
            return None
        index, kind = self.target
        if index == len(self.calls) - 1 and kind in kinds:
            self.fired = True
            return kind
        return None

    def _params(self, params: dict[str, Any], **_: Any) -> None:
        # The call's API parameters (before-call only sees the serialised request).
        self._api_params = params

    def _before(self, model: Any, **_: Any) -> Any:
        if not self.armed:
            return None
        params = self._api_params
        service = model.service_model.service_name
        call = Call(service, model.name, _can_lose_a_race(model.name, params))
        self.calls.append(call)
        kind = self._hit(("throttle", "unavailable", "condition", "rejected"))
        if kind == "throttle":
            code = "ProvisionedThroughputExceededException" if service == "dynamodb" else "ThrottlingException"
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, model.name)
        if kind == "unavailable":
            raise EndpointConnectionError(endpoint_url=f"https://{service}.injected")
        if kind == "condition":
            error: dict[str, Any] = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "injected"}}
            if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                found = self.raw_dynamodb.get_item(TableName=params["TableName"], Key=params["Key"])
                if "Item" in found:
                    error["Item"] = found["Item"]
            raise ClientError(error, model.name)
        if kind == "rejected":
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
                for e in params["Entries"]
            ]
            return _Http(), {"Successful": [], "Failed": failed, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    def _after(self, model: Any, **_: Any) -> None:
        kind = self._hit(("timeout", "crash"))
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://{model.service_model.service_name}.injected")
        if kind == "crash":
            raise ProcessDied(f"after call {self.target}")


class _Http:
    status_code = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - read-only stand-in of an HTTP response


_CREATE_ONLY = re.compile(r"^attribute_not_exists\(\w+\)$")


def _can_lose_a_race(operation: str, params: dict[str, Any]) -> bool:
    """A conditional write another writer can make fail. Not a create-only put
    (``attribute_not_exists(key)``): that fails only if the item exists, which a fault cannot fake."""
    condition = params.get("ConditionExpression")
    if not isinstance(condition, str):
        return False
    return not (operation == "PutItem" and _CREATE_ONLY.match(condition.strip()))
