"""moto in-process as the AWS engine, with every AWS call made atomic.

moto has no locking: two requests served at once can interleave inside one operation (and its
transactions copy and restore whole tables). Real DynamoDB makes each single-item write atomic;
one engine lock around every call gives the local stack the same guarantee, while requests still
interleave *between* calls as they do on AWS.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

ENGINE_LOCK = threading.RLock()
_NOTHING_REAL = "local"  # moto takes any credentials; these open no AWS account
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": _NOTHING_REAL,
    "AWS_SESSION_TOKEN": _NOTHING_REAL,
    "AWS_DEFAULT_REGION": "ap-southeast-1",
    "AWS_REGION": "ap-southeast-1",
}


def _serialised(process: Any) -> Any:
    def locked(self: BotocoreStubber, request: Any) -> Any:
        with ENGINE_LOCK:
            return process(self, request)

    locked.__wrapped__ = process  # type: ignore[attr-defined]
    return locked


def fake_credentials() -> None:
    """Point boto3 at nothing real: fake credentials and a region, never an AWS account."""
    for key, val in _FAKE_ENV.items():
        os.environ[key] = val
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)


def start() -> Any:
    """Start moto in this process (serialised); returns the mock, whose ``stop()`` ends it."""
    fake_credentials()
    if not hasattr(BotocoreStubber.process_request, "__wrapped__"):
        BotocoreStubber.process_request = _serialised(BotocoreStubber.process_request)  # type: ignore[method-assign]
    mock = mock_aws()
    mock.start()
    return mock
