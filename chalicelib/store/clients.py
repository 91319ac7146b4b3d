"""AWS clients, created lazily and once per container (never at import, never per request)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from chalicelib.config import get_settings


@lru_cache(maxsize=1)
def _boto_config() -> Any:
    # Imported here: boto3 is a third of a cold start, and ``import app`` needs none of it.
    from botocore.config import Config

    # Short timeouts and a few adaptive retries: an API request has ~29 s in all, and a throttled
    # write that still fails after the retries is better answered with 429 than held open.
    # No client-side check of each call's parameters against the service model: the calls are the
    # store's own, of fixed shapes its tests exercise, and DynamoDB checks them again anyway. The
    # check was 7% of the service's CPU under the bench (py-spy, 2026-12-07).
    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=64,
        parameter_validation=False,
    )


def _quiet_sdk_logs() -> None:
    # At DEBUG botocore logs whole request bodies (names, national IDs): never below WARNING here,
    # whatever level the rest of the service runs at.
    for name in ("botocore", "boto3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    import boto3

    _quiet_sdk_logs()
    return boto3.client("dynamodb", region_name=get_settings().region, config=_boto_config())


@lru_cache(maxsize=1)
def sqs() -> Any:
    import boto3

    _quiet_sdk_logs()
    return boto3.client("sqs", region_name=get_settings().region, config=_boto_config())


@lru_cache(maxsize=1)
def kms() -> Any:
    import boto3

    _quiet_sdk_logs()
    return boto3.client("kms", region_name=get_settings().region, config=_boto_config())


def reset() -> None:
    """Forget cached clients (tests start a fresh moto backend per test)."""
    dynamodb.cache_clear()
    sqs.cache_clear()
    kms.cache_clear()
