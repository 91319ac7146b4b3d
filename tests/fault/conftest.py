"""The fault suite's world: one moto backend and stand-ins, wiped between runs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fault.world import World, make_world


@pytest.fixture
def world(
    aws: dict[str, str], client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> World:
    return make_world(aws, client, queues, stand_ins, monkeypatch)
