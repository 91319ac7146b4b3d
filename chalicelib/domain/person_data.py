"""The person's data (contract v1.2): what ``POST /v1/registrations/{id}/data`` and ``.../erase``
take and answer. The data answer is the registration body's shape (names, birth date, phone,
eligibility, consent: what a person could register with again elsewhere), and everything else the
service holds about that registration."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime

from pydantic import BaseModel, Field

from chalicelib.domain.doses import VisitStatus
from chalicelib.domain.models import (
    Basis,
    CancelRequest,
    Channel,
    ConsentView,
    Registration,
    Status,
    iso_utc,
)
from chalicelib.domain.staff import AuditEntry


class PersonDataRequest(CancelRequest):
    """``{"birth_date"}``: the registration's birth date, as for a cancel (failures count alike)."""


class EligibilityHeld(BaseModel):
    basis: Basis
    detail: str


class VisitHeld(BaseModel):
    """One appointment of one dose, as held: booked, done (``given_on``: the day it was given) or missed."""

    dose: int
    date: date
    site: str
    status: VisitStatus
    given_on: dt.date | None = None


class AuditHeld(BaseModel):
    """A staff action about the registration (the audit trail): what, when, by which desk."""

    at: str = Field(description="ISO 8601 UTC")
    action: str = Field(description="counter.register, counter.reclaim, counter.cancel, site.check_in, ...")
    status: int = Field(description="the HTTP status it was answered with")
    role: str
    label: str = Field(description="the staff token's label: the desk or site that acted")


class PersonalData(BaseModel):
    """Every field the service holds about one registration."""

    registration_id: str
    status: Status
    channel: Channel
    registered_at: str = Field(description="ISO 8601 UTC")
    national_id: str
    first_name: str
    last_name: str
    birth_date: date
    phone: str
    eligibility: EligibilityHeld
    consent: ConsentView
    label: str | None = Field(description="the counter or organisation that registered it (null: the app)")
    reserve_rank: int | None = Field(description="null unless status is reserve")
    promoted_at: str | None = Field(description="ISO 8601 UTC: when it left the reserve for a place")
    reclaimed_at: str | None = Field(description="ISO 8601 UTC: when a counter gave it to the ID card's holder")
    cancelled_at: str | None = Field(description="ISO 8601 UTC")
    cancel_reason: str | None
    removals: dict[str, str] = Field(
        description="per registry (mor_phrom, khon_kaen_phrom), what it answered: pending | removed | not_found"
        " | failed | not_needed"
    )
    appointments: list[VisitHeld] = Field(description="every appointment of every dose: booked, done or missed")
    appointment_sms_sent: bool = Field(description="an SMS of its appointments has been sent to its phone")
    audit: list[AuditHeld] = Field(description="the staff actions about it, oldest first")

    @classmethod
    def of(cls, reg: Registration, rank: int | None, audit: list[AuditEntry]) -> PersonalData:
        """Raises ValueError for an erased registration (it holds nothing of the person to show)."""
        if reg.birth_date is None:
            raise ValueError("erased")
        return cls(
            registration_id=reg.registration_id,
            status=reg.status,
            channel=reg.channel,
            registered_at=iso_utc(reg.registered_at),
            national_id=reg.national_id,
            first_name=reg.first_name,
            last_name=reg.last_name,
            birth_date=reg.birth_date,
            phone=reg.phone,
            eligibility=EligibilityHeld(basis=reg.basis, detail=reg.detail),
            consent=ConsentView.of(reg),
            label=reg.label,
            reserve_rank=rank if reg.status is Status.RESERVE else None,
            promoted_at=_iso(reg.promoted_at),
            reclaimed_at=_iso(reg.reclaimed_at),
            cancelled_at=_iso(reg.cancelled_at),
            cancel_reason=reg.cancel_reason,
            removals=dict(reg.removals),
            appointments=[VisitHeld.model_validate(v.model_dump()) for v in reg.visits],
            appointment_sms_sent=reg.sms_sent_for is not None,
            audit=[
                AuditHeld(at=iso_utc(e.at), action=e.action, status=e.status, role=e.role.value, label=e.label)
                for e in audit
            ],
        )


class Erased(BaseModel):
    """``POST /v1/registrations/{id}/erase``: the registration, its personal fields gone."""

    registration_id: str
    status: Status = Field(description="cancelled (an active registration is cancelled by its erasure)")
    erased_at: str = Field(description="ISO 8601 UTC")

    @classmethod
    def of(cls, reg: Registration) -> Erased:
        assert reg.erased_at is not None  # narrows the type: only an erased registration  # nosec B101
        return cls(registration_id=reg.registration_id, status=reg.status, erased_at=iso_utc(reg.erased_at))


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None
