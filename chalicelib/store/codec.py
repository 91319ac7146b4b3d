"""Conversion between Python values and DynamoDB attribute values, and error translation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import Overloaded

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


@lru_cache(maxsize=1)
def _codec() -> tuple[Any, Any]:
    # Imported on first use: boto3 is a third of a cold start, and ``import app`` needs none of it.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "ServiceUnavailable",
}


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: value(v) for k, v in item.items() if v is not None}


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, float):
        v = Decimal(str(v))
    encoded: dict[str, Any] = _codec()[0].serialize(v)
    return encoded


def decode(item: Mapping[str, Any]) -> dict[str, Any]:
    des = _codec()[1]
    return {k: _plain(des.deserialize(v)) for k, v in item.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, set):
        return {_plain(x) for x in v}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn throttling and transport failures (after botocore's retries) into ``Overloaded``."""
    # Imported on first use, as boto3 is: the stores' modules (and the unit tests' fakes) need none of it.
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in THROTTLING:
            raise Overloaded(retry_after=2) from exc
        raise
    except BotoCoreError as exc:
        # A connection that could not be made sent nothing; any other transport failure (a read
        # timeout, a connection closed mid-answer) may have been applied.
        raise Overloaded(retry_after=2, maybe_applied=not isinstance(exc, EndpointConnectionError)) from exc
