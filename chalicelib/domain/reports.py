"""Admin queries and answers: the query parameters of the admin routes, reconciliation runs and the
daily report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from chalicelib.domain.models import ABSENT_NOT_NULL, DATE_PATTERN, Status
from chalicelib.domain.staff import AUDIT_CURSOR_PATTERN, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX


def _real_date(value: str) -> str:
    date.fromisoformat(value)  # a ValueError names the field
    return value


Day = Annotated[
    StrictStr,
    Field(pattern=DATE_PATTERN, json_schema_extra={"format": "date"}, description="YYYY-MM-DD, Asia/Bangkok"),
    AfterValidator(_real_date),
]


class _Query(BaseModel):
    # Unknown query parameters are ignored, as API Gateway passes them on.
    model_config = ConfigDict(extra="ignore")


class DayQuery(_Query):
    date: Day


class AuditQuery(_Query):
    date: Day
    limit: int = Field(default=AUDIT_PAGE_DEFAULT, ge=1, le=AUDIT_PAGE_MAX, description="entries a page")
    cursor: str | None = Field(
        default=None,
        pattern=AUDIT_CURSOR_PATTERN,
        description="the previous page's `next_cursor` (opaque; a changed one is a 400)",
        json_schema_extra=ABSENT_NOT_NULL,
    )


class ExportQuery(_Query):
    status: Status | None = Field(default=None, json_schema_extra=ABSENT_NOT_NULL)
    cursor: str | None = Field(
        default=None,
        pattern="^[rp]_[A-Za-z0-9_-]{16,43}$",
        description="from the previous page's Link header",
        json_schema_extra=ABSENT_NOT_NULL,
    )


class ReconcileQuery(_Query):
    full: str | None = Field(
        default=None,
        description="true: also check every confirmed person in Mor Phrom and Khon Kaen Phrom",
        json_schema_extra=ABSENT_NOT_NULL,
    )


class BatchQuery(_Query):
    organisation: str | None = Field(
        default=None, description="employer name, required with a text/csv body", json_schema_extra=ABSENT_NOT_NULL
    )


class ReconcileStarted(BaseModel):
    run_id: str
    status: Literal["running"] = "running"
    full: bool


class Findings(BaseModel):
    quiescent: bool = Field(description="the campaign's counters did not move during the scan")
    repaired: list[str]
    drift: dict[str, int]
    registries: dict[str, int] = Field(default_factory=dict)


class ReconcileRun(BaseModel):
    run_id: str
    status: Literal["running", "settling", "done"]
    full: bool
    segments: int
    segments_done: int
    started_at: str | None
    findings: Findings | None


class Started(BaseModel):
    status: Literal["running"] = "running"


class EventFigures(BaseModel):
    total: int
    by_channel: dict[str, int] = Field(description="app, counter, org")
    by_basis: dict[str, int] = Field(
        description="house_registration, works_in_municipality, lives_without_house_number"
    )


class RemovalFigures(BaseModel):
    removed: int
    not_found: int
    failed: int


class PlacesLeft(BaseModel):
    primary: int
    reserve: int
    as_of: str = Field(description="ISO 8601 UTC: when the figures were read")


class DoseFigures(BaseModel):
    given: dict[str, int] = Field(description="doses given that day, by dose number (1, 2, ...)")
    missed: int = Field(description="appointments of the day closed without a check-in")
    rebooked: int = Field(description="missed doses booked again")
    no_show_cancelled: int = Field(description="registrations cancelled after a second missed first dose")


class DosesOfDay(DoseFigures):
    by_site: dict[str, DoseFigures] = Field(description="the same figures per vaccination site (by name)")


class DailyReport(BaseModel):
    date: str
    registrations: EventFigures
    confirmations: EventFigures
    promotions: EventFigures
    cancellations: EventFigures
    removals: dict[str, RemovalFigures] = Field(description="mor_phrom, khon_kaen_phrom")
    places_left: PlacesLeft | None = Field(description="as last seen that day; null when no run saw the day")
    doses: DosesOfDay
