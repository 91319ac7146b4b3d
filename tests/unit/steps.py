"""Steps the unit tests share: registering the n-th test person through the service, draining a
fake queue into its service."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.models import Channel, RegistrationRequest, RegistrationView
from chalicelib.services import promotion, registrations
from tests.helpers import body
from tests.unit.fakes import FakeStores

BIRTH = "1980-01-31"


def request(n: int, **changes: Any) -> RegistrationRequest:
    return RegistrationRequest.model_validate(body(n, **changes))


def register(n: int, channel: Channel = Channel.APP, **changes: Any) -> RegistrationView:
    return registrations.register(request(n, **changes), channel)


def release_all(st: FakeStores) -> int:
    """Run every queued release job (and the ones they queue); how many ran."""
    ran = 0
    while jobs := st.promotions.take():
        for job in jobs:
            promotion.release(job["registration_id"])
            ran += 1
    return ran
