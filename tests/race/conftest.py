"""The race tests run against the local stack itself: its HTTP server on a free port.

Its engine follows ``LOCAL_ENGINE_SPEEDUPS`` (``local.engine.start``): ``make test`` runs this suite
twice, with the speed-ups and on plain moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from local.stack import LocalStack
from tests.conftest import STAGE


@pytest.fixture
def local_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., LocalStack]]:
    started: list[LocalStack] = []

    def start(primary: int, reserve: int, shards: int = 4) -> LocalStack:
        monkeypatch.setenv("CAMPAIGN_PRIMARY_CAPACITY", str(primary))
        monkeypatch.setenv("CAMPAIGN_RESERVE_CAPACITY", str(reserve))
        monkeypatch.setenv("QUOTA_SHARDS", str(shards))
        # The app binds its queue names at import (as a deployment does): one stage for all tests.
        stack = LocalStack(stage=STAGE)
        started.append(stack)
        return stack.__enter__()

    yield start
    for stack in started:
        stack.close()
    from chalicelib.store import factory

    factory.reset()
