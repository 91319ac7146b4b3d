"""Registrations as the services make them, for the store contract: the n-th test person, with a
receipt code that carries their pointer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain import rules
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.models import REGISTRIES, Basis, Channel, Registration, Status
from tests.helpers import national_id

SECRET = b"store contract, not a real key"
START = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)
DAY = date(2026, 8, 1)


def pointer(n: int) -> bytes:
    return rules.person_pointer(national_id(n), SECRET)


def person(
    n: int, status: Status = Status.CONFIRMED, channel: Channel = Channel.APP, **changes: Any
) -> tuple[Registration, bytes]:
    """The n-th person's new registration (a confirmed one has its removals pending) and pointer,
    registered ``n`` seconds after ``START``."""
    p = pointer(n)
    reg = Registration(
        registration_id=rules.receipt_code(p),
        status=status,
        channel=channel,
        registered_at=START + timedelta(seconds=n),
        national_id=national_id(n),
        first_name="สมชาย",
        last_name="ใจดี",
        birth_date=date(1980, 1, 31),
        phone="0812345678",
        basis=Basis.HOUSE_REGISTRATION,
        detail="12 ถ.หน้าเมือง",
        ticket=n if status is Status.RESERVE else None,
        removals=dict.fromkeys(REGISTRIES, "pending") if status is Status.CONFIRMED else {},
    )
    return reg.model_copy(update=changes), p


def booked(dose: int = 1, day: date = DAY, site: str = "Hall") -> Visit:
    return Visit(dose=dose, date=day, site=site, status=VisitStatus.BOOKED)


def missed(dose: int = 1, day: date = DAY, site: str = "Hall") -> Visit:
    return Visit(dose=dose, date=day, site=site, status=VisitStatus.MISSED)
