"""Pydantic models: the request bodies the API validates and the resources it returns."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from chalicelib.domain import rules

# The other booking systems every confirmed person is removed from.
REGISTRIES = ("mor_phrom", "khon_kaen_phrom")
REMOVAL_STATES = ("pending", "removed", "not_found", "failed")


class Status(StrEnum):
    CONFIRMED = "confirmed"
    RESERVE = "reserve"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    APP = "app"
    COUNTER = "counter"
    ORG = "org"


class Basis(StrEnum):
    HOUSE_REGISTRATION = "house_registration"
    WORKS_IN_MUNICIPALITY = "works_in_municipality"
    LIVES_WITHOUT_HOUSE_NUMBER = "lives_without_house_number"


def _national_id(value: str) -> str:
    return rules.normalise_national_id(value)


def _name(value: str) -> str:
    return rules.normalise_name(value)


def _phone(value: str) -> str:
    return rules.normalise_phone(value)


def _birth_date(value: str) -> str:
    return rules.parse_birth_date(value, rules.today_in_bangkok()).isoformat()


def _consented(value: bool) -> bool:
    if value is not True:
        raise ValueError("consent must be true")
    return value


def _detail(value: str) -> str:
    return rules.clean_text(value, 300)


NationalId = Annotated[StrictStr, AfterValidator(_national_id), Field(examples=["1101700230708"])]
PersonName = Annotated[StrictStr, AfterValidator(_name), Field(examples=["สมชาย"])]
Phone = Annotated[StrictStr, AfterValidator(_phone), Field(examples=["0812345678"])]
BirthDate = Annotated[
    StrictStr,
    AfterValidator(_birth_date),
    Field(description="YYYY-MM-DD, not in the future", examples=["1980-01-31"]),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Eligibility(_Body):
    basis: Basis
    detail: Annotated[StrictStr, AfterValidator(_detail), Field(description="address or employer, 1-300 characters")]


class RegistrationRequest(_Body):
    """The registration body of the contract."""

    national_id: NationalId
    first_name: PersonName
    last_name: PersonName
    birth_date: BirthDate
    phone: Phone
    eligibility: Eligibility
    # Strict: a JSON 1 or "true" is not consent (Literal[True] alone lets 1 through, as 1 == True).
    consent: Annotated[StrictBool, AfterValidator(_consented), Field(json_schema_extra={"const": True})] = Field(
        description="personal data consent; must be true"
    )

    @property
    def birth(self) -> date:
        return date.fromisoformat(self.birth_date)


class LookupRequest(_Body):
    national_id: NationalId
    birth_date: BirthDate


class CancelRequest(_Body):
    birth_date: BirthDate


class Appointment(BaseModel):
    date: date
    site: str


class Registration(BaseModel):
    """A stored registration: the domain entity the store returns (never a raw item)."""

    registration_id: str
    status: Status
    channel: Channel
    registered_at: datetime
    national_id: str
    first_name: str
    last_name: str
    birth_date: date
    phone: str
    basis: Basis
    detail: str
    ticket: int | None = None
    label: str | None = None
    promoted_by: str | None = None
    cancelled_at: datetime | None = None
    # Set while a cancelled registration still holds a place (primary or reserve) to give back.
    release_pending: bool = False
    release_target: str | None = None
    held: Literal["primary", "reserve"] | None = None
    # Removal from the other registries, per registry: pending | removed | not_found | failed.
    removals: dict[str, str] = Field(default_factory=dict)
    # Failed attempts per registry (the removal sweep gives up, as ``failed``, after a few).
    tries: dict[str, int] = Field(default_factory=dict)
    appointment: Appointment | None = None
    sms_sent_for: str | None = None
    # The statistics include this registration (a direct confirmation is counted by the removal sweep).
    counted: bool = False
    # Follow-up steps of a cancellation not done yet ("counts", "slot"): a retried cancel does them.
    todo: list[str] = Field(default_factory=list)
    # Superseded by a newer registration of the same person: kept under its receipt code.
    archived: bool = False
    # The reserve rank its registration answered (an Idempotency-Key replay answers it again).
    rank_at_start: int | None = None


class RegistrationView(BaseModel):
    """The registration resource of the contract."""

    registration_id: str = Field(description="unguessable, at least 128 random bits")
    status: Status
    reserve_rank: int | None = Field(description="1 = next to be promoted; null unless status is reserve")
    channel: Channel
    registered_at: str = Field(description="ISO 8601 UTC", examples=["2026-07-06T08:15:00Z"])
    appointment: Appointment | None
    expected_date: date | None = Field(
        default=None,
        description="until an appointment is given: the estimated day (confirmed), or the day if promoted (reserve)",
    )

    @classmethod
    def of(cls, reg: Registration, rank: int | None, expected: date | None = None) -> RegistrationView:
        return cls(
            registration_id=reg.registration_id,
            status=reg.status,
            reserve_rank=rank if reg.status is Status.RESERVE else None,
            channel=reg.channel,
            registered_at=iso_utc(reg.registered_at),
            appointment=reg.appointment,
            expected_date=expected,
        )


class Places(BaseModel):
    capacity: int
    remaining: int


class ChannelsView(BaseModel):
    app: Literal["open", "closed"]
    counter: Literal["open", "closed"]
    org: Literal["open", "closed"]


class CampaignView(BaseModel):
    name: str
    min_age: int
    primary: Places
    reserve: Places
    channels: ChannelsView


class Health(BaseModel):
    status: Literal["ok"]


class ErrorBody(BaseModel):
    code: str
    message: str
    message_th: str
    fields: list[str] | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def iso_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validation_fields(errors: list[Any]) -> list[str]:
    """Dotted field names out of pydantic's error list (``eligibility.basis``)."""
    names = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if not isinstance(part, int)]
        names.append(".".join(loc) if loc else "body")
    return names
