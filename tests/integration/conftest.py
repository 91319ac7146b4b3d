"""Fixtures of the integration suites."""

from __future__ import annotations

import pytest


class Clock:
    """The services' clock, moved by hand (they read ``time.time()`` through their ``time`` module)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import time

    from chalicelib.services import lockouts, receipts, verifications

    fake = Clock(time.time())
    for module in (verifications, lockouts, receipts):
        monkeypatch.setattr(module, "time", fake)
    return fake
