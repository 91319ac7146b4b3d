"""Unit tests: the services' decisions against in-memory stores (``fakes.py``), no AWS, no moto.

With ``KKREG_WITHOUT_MOTO=1`` importing moto fails here, as it would where moto is not installed
(``test_hygiene.test_unit_tests_run_without_moto`` runs the suite so).
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.caches import reset_caches
from chalicelib.domain import rules
from chalicelib.services import removals
from chalicelib.store import factory
from tests.unit.fakes import FakeRegistry, FakeStores


class _NoMoto(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "moto" or name.startswith("moto."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden: KKREG_WITHOUT_MOTO)")
        return None


if os.environ.get("KKREG_WITHOUT_MOTO") == "1":
    sys.meta_path.insert(0, _NoMoto())

SITES = [{"name": "Hall", "capacity": 2}, {"name": "Stadium", "capacity": 1}]


@pytest.fixture
def campaign(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeStores]]:
    """``campaign(primary=, reserve=, ...)``: empty in-memory stores served by ``stores()``, with
    those settings (a schedule of two sites from tomorrow, two doses 28 days apart)."""

    def start(primary: int = 2, reserve: int = 2, min_age: int = 18, **env: str) -> FakeStores:
        tomorrow = rules.today_in_bangkok() + timedelta(days=1)
        settings = {
            "CAMPAIGN_PRIMARY_CAPACITY": str(primary),
            "CAMPAIGN_RESERVE_CAPACITY": str(reserve),
            "CAMPAIGN_MIN_AGE": str(min_age),
            "VACCINATION_FIRST_DAY": tomorrow.isoformat(),
            "VACCINATION_SITES": json.dumps(SITES),
            "VACCINATION_CLOSED_DAYS": "",
            "DOSES": "2",
            "DOSE_INTERVAL_DAYS": "28",
            "STALE_CLAIM_SECONDS": "120",
        } | env
        for key, val in settings.items():
            monkeypatch.setenv(key, val)
        reset_caches()
        fake = FakeStores.empty(primary, reserve)
        factory.use_stores(fake)
        return fake

    yield start
    factory.use_stores(None)
    reset_caches()


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeRegistry]:
    """Mor Phrom and Khon Kaen Phrom as in-memory stand-ins (what the removal sweep and
    reconciliation call)."""
    from chalicelib.services import reconcile

    found = {name: FakeRegistry(name) for name in ("mor_phrom", "khon_kaen_phrom")}
    monkeypatch.setattr(removals, "client", found.__getitem__)
    monkeypatch.setattr(reconcile, "client", found.__getitem__)
    return found
