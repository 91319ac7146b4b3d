"""moto in-process as the AWS engine, with every AWS call made atomic.

moto has no locking: two requests served at once can interleave inside one operation (and its
transactions copy and restore whole tables). Real DynamoDB makes each single-item write atomic;
one engine lock around every call gives the local stack the same guarantee, while requests still
interleave *between* calls as they do on AWS. The lock is correctness and always on; the speed-ups
(``local.speedups``) are only speed, and ``LOCAL_ENGINE_SPEEDUPS=off`` runs plain moto behind it.
"""

from __future__ import annotations

import threading
from typing import Any

from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from local import quiet, speedups
from local.credentials import fake_credentials

ENGINE_LOCK = threading.RLock()


def _serialised(process: Any) -> Any:
    def locked(self: BotocoreStubber, request: Any) -> Any:
        with ENGINE_LOCK:
            return process(self, request)

    locked.__wrapped__ = process  # type: ignore[attr-defined]
    return locked


def serialise_calls() -> None:
    """Every call moto answers in this process, one at a time (``ENGINE_LOCK``)."""
    if not hasattr(BotocoreStubber.process_request, "__wrapped__"):
        BotocoreStubber.process_request = _serialised(BotocoreStubber.process_request)  # type: ignore[method-assign]


def start() -> Any:
    """Start moto in this process, serialised, with the speed-ups as ``LOCAL_ENGINE_SPEEDUPS`` asks
    (read on every start: the tests' fixtures and the race suite follow it) and the pinned moto
    allows; returns the mock, whose ``stop()`` ends it. ``speedups.installed()`` says which engine runs.

    Raises RuntimeError when ``LOCAL_ENGINE_SPEEDUPS`` is neither on nor off."""
    quiet.expected_moto_gaps()
    fake_credentials()
    serialise_calls()
    if speedups.wanted():
        speedups.install()  # False, with a warning, on another moto: plain moto then
    else:
        speedups.uninstall()
    mock = mock_aws()
    mock.start()
    return mock
