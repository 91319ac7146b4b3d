"""Pydantic models: the request bodies the API validates and the resources it returns."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from chalicelib.domain import rules
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.names import DATE_PATTERN as DATE_PATTERN
from chalicelib.domain.names import Channel as Channel

# The other booking systems every confirmed person is removed from.
REGISTRIES = ("mor_phrom", "khon_kaen_phrom")
# not_needed: still open when the person's data were erased (no place to protect, no ID to ask with).
REMOVAL_STATES = ("pending", "removed", "not_found", "failed", "not_needed")


class Status(StrEnum):
    CONFIRMED = "confirmed"
    RESERVE = "reserve"
    CANCELLED = "cancelled"


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


# What the OpenAPI document says of each field, as exact as JSON Schema can say it: the rules above
# decide; these patterns describe the same sets (separators, Thai digits and the +66 form included),
# and a format names what no pattern can (the check digit, a date not in the future).
_ID_PATTERN = "^[ -]*(?:[0-9๐-๙][ -]*){13}$"
_NAME_CHARS = f"{rules._THAI_LETTER}{rules._LATIN_LETTER}{rules._COMBINING}.'\\-"
_NAME_PATTERN = f"^ *[{rules._THAI_BASE}{rules._LATIN_LETTER}](?:[{_NAME_CHARS} ]{{0,98}}[{_NAME_CHARS}])? *$"
_PHONE_PATTERN = "^[ -]*(?:\\+[ -]*6[ -]*6|0)[ -]*[689](?:[ -]*[0-9]){8}[ -]*$"
# Free text (address, employer): its pattern (``rules.text_pattern``) says the whole rule; the format
# names it for the hooks of ``make api-fuzz``, which draw readable text rather than any the rule takes.
TEXT_FORMAT = "text"

NationalId = Annotated[
    StrictStr,
    AfterValidator(_national_id),
    Field(
        description="13 digits with a valid check digit; Thai digits, spaces and dashes are accepted",
        examples=["1101700230708"],
        json_schema_extra={"pattern": _ID_PATTERN, "format": "thai-national-id"},
    ),
]
PersonName = Annotated[
    StrictStr,
    AfterValidator(_name),
    Field(
        description="1-100 characters after trimming: Thai or Latin letters, inner spaces, . - '",
        examples=["สมชาย"],
        json_schema_extra={"pattern": _NAME_PATTERN},
    ),
]
Phone = Annotated[
    StrictStr,
    AfterValidator(_phone),
    Field(
        description="Thai mobile number (06, 08 or 09 and 8 digits, or +66); spaces and dashes are accepted",
        examples=["0812345678"],
        json_schema_extra={"pattern": _PHONE_PATTERN},
    ),
]
BirthDate = Annotated[
    StrictStr,
    AfterValidator(_birth_date),
    Field(
        description="YYYY-MM-DD, a real date from 1900 on, not in the future (Asia/Bangkok)",
        examples=["1980-01-31"],
        # What a schema can say (a real day, written YYYY-MM-DD); "from 1900, not in the future" it
        # cannot, so a generated client still needs the description (or the hooks' "date").
        json_schema_extra={"format": "date", "pattern": DATE_PATTERN},
    ),
]


def text_field(max_len: int, description: str) -> Any:
    """The JSON Schema of a free-text field that ``rules.clean_text(value, max_len)`` checks.

    No ``maxLength``: the check measures the value trimmed, which the pattern does; a schema bound
    on the value as sent would refuse what the check takes (spaces around a full-length text).
    """

    def describe(schema: dict[str, Any]) -> None:
        # Written when the document is (the pattern comes from the Unicode tables), not at import.
        schema.update(minLength=1, format=TEXT_FORMAT, pattern=rules.text_pattern(max_len))

    return Field(description=description, json_schema_extra=describe)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Eligibility(_Body):
    basis: Basis
    detail: Annotated[
        StrictStr, AfterValidator(_detail), text_field(300, "address or employer, 1-300 characters once trimmed")
    ]


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


class CounterCancelRequest(_Body):
    """A counter cancelling for the person in front of it (ID card seen): the national ID alone."""

    national_id: NationalId


class Appointment(BaseModel):
    date: date
    site: str


class ConsentRecord(BaseModel):
    """The consent a registration was made with: the text's version (``domain.consent``), when, and
    who confirmed it: the person on the app, the staff member at a counter, the organisation per row."""

    version: str
    at: datetime
    channel: Channel


class Registration(BaseModel):
    """A stored registration: the domain entity the store returns (never a raw item).

    Erased (``erased_at`` set: by the person, or by the retention job) it keeps no personal field:
    the names, birth date, phone, eligibility detail and national ID read empty (None for the
    birth date); the keyed hash it is stored under, its status, channel, dates and visits stay.
    """

    registration_id: str
    status: Status
    channel: Channel
    registered_at: datetime
    national_id: str = ""
    first_name: str = ""
    last_name: str = ""
    birth_date: date | None = None
    phone: str = ""
    basis: Basis
    detail: str = ""
    ticket: int | None = None
    label: str | None = None
    promoted_by: str | None = None
    cancelled_at: datetime | None = None
    # Set while a cancelled registration still holds a place (primary or reserve) to give back.
    release_pending: bool = False
    release_target: str | None = None
    held: Literal["primary", "reserve"] | None = None
    # Removal from the other registries, per registry: pending | removed | not_found | failed | not_needed.
    removals: dict[str, str] = Field(default_factory=dict)
    # Failed attempts per registry (the removal sweep gives up, as ``failed``, after a few).
    tries: dict[str, int] = Field(default_factory=dict)
    appointment: Appointment | None = None
    sms_sent_for: str | None = None
    # Every appointment of every dose (missed ones stay), and the version they are written under.
    visits: list[Visit] = Field(default_factory=list)
    appt_rev: int = 0
    cancel_reason: Literal["no_show"] | None = None
    # The statistics include this registration (a direct confirmation is counted by the removal sweep).
    counted: bool = False
    # Follow-up steps of a cancellation not done yet ("counts"): a retried cancel does them.
    todo: list[str] = Field(default_factory=list)
    # Superseded by a newer registration of the same person: kept under its receipt code.
    archived: bool = False
    # The reserve rank its registration answered (an Idempotency-Key replay answers it again).
    rank_at_start: int | None = None
    # The stored item's version (every change counts one): a counter reclaim is a compare-and-set on it.
    version: int = 0
    # None: made before consent was recorded (the view says "unrecorded").
    consent: ConsentRecord | None = None
    promoted_at: datetime | None = None
    reclaimed_at: datetime | None = None
    # When its personal fields were erased (the person's erasure, or retention); None while held.
    erased_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def born_on(self, birth_date: str) -> bool:
        """Whether ``birth_date`` (YYYY-MM-DD) is this registration's, compared in constant time;
        never for an erased one (there is nothing left to compare with)."""
        held = self.birth_date.isoformat() if self.birth_date is not None else ""
        return rules.same_secret(held, birth_date) and bool(held)


class AppointmentView(BaseModel):
    """One appointment of the resource's ``appointments``."""

    dose: int
    date: date
    site: str
    status: VisitStatus


# The consent version of a registration made before consent was recorded (``domain.consent``).
UNRECORDED = "unrecorded"


class ConsentView(BaseModel):
    """The consent record of the resource (contract v1.2)."""

    version: str = Field(description='the consent text\'s version (GET /v1/consent); "unrecorded" before v1.2')
    at: str = Field(description="ISO 8601 UTC: when it was given (the registration's time before v1.2)")
    channel: Channel = Field(description="who confirmed it: app (the person), counter (staff), org (the employer)")

    @classmethod
    def of(cls, reg: Registration) -> ConsentView:
        if reg.consent is None:
            return cls(version=UNRECORDED, at=iso_utc(reg.registered_at), channel=reg.channel)
        return cls(version=reg.consent.version, at=iso_utc(reg.consent.at), channel=reg.consent.channel)


class RegistrationView(BaseModel):
    """The registration resource of the contract."""

    registration_id: str = Field(description="unguessable, at least 128 random bits")
    status: Status
    reserve_rank: int | None = Field(description="1 = next to be promoted; null unless status is reserve")
    channel: Channel
    registered_at: str = Field(description="ISO 8601 UTC", examples=["2026-07-06T08:15:00Z"])
    appointment: Appointment | None = Field(description="the next appointment not yet done (null when none)")
    appointments: list[AppointmentView] = Field(
        default_factory=list, description="every appointment of every dose: booked, done or missed"
    )
    cancel_reason: Literal["no_show"] | None = Field(
        default=None, description="no_show: cancelled after a second missed first dose"
    )
    expected_date: date | None = Field(
        default=None,
        description="until an appointment is given: the estimated day (confirmed), or the day if promoted (reserve)",
    )
    consent: ConsentView | None = Field(default=None, description="the consent this registration was made with")

    @classmethod
    def of(cls, reg: Registration, rank: int | None, expected: date | None = None) -> RegistrationView:
        return cls(
            registration_id=reg.registration_id,
            status=reg.status,
            reserve_rank=rank if reg.status is Status.RESERVE else None,
            channel=reg.channel,
            registered_at=iso_utc(reg.registered_at),
            appointment=reg.appointment,
            appointments=[AppointmentView(dose=v.dose, date=v.date, site=v.site, status=v.status) for v in reg.visits],
            cancel_reason=reg.cancel_reason,
            expected_date=expected,
            consent=ConsentView.of(reg),
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


def _absent_not_null(schema: dict[str, Any]) -> None:
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    schema.pop("default", None)


# For a field left out of an answer when empty (never sent as null): its schema says just that.
ABSENT_NOT_NULL: Any = _absent_not_null


class ErrorBody(BaseModel):
    code: str = Field(pattern="^[a-z_]+$")
    message: str
    message_th: str
    fields: list[str] | None = Field(
        default=None, description="validation_error only: every bad field, dotted", json_schema_extra=ABSENT_NOT_NULL
    )


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class CheckInRequest(_Body):
    """``{"registration_id"}`` (the receipt code, typed or scanned) or ``{"national_id"}``: exactly one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["registration_id"]}, {"required": ["national_id"]}]},
    )

    registration_id: StrictStr | None = Field(
        default=None,
        max_length=64,
        description="the receipt code (an unknown one is a 404)",
        examples=["r_3q2Ck0lD5tHf7wZ1aB9xYg"],
        json_schema_extra=ABSENT_NOT_NULL,
    )
    national_id: NationalId | None = Field(default=None, json_schema_extra=ABSENT_NOT_NULL)

    @field_validator("registration_id", "national_id", mode="before")
    @classmethod
    def _given_not_null(cls, value: object) -> object:
        # A key is left out, never sent as null: the document says so, and the check says the same.
        if value is None:
            raise ValueError("null")
        return value


class CheckIn(BaseModel):
    registration_id: str
    dose: int
    date: Annotated[date, Field(description="the day the dose was given: today (Asia/Bangkok)")]
    site: str


class DayClosing(BaseModel):
    date: Annotated[date, Field(description="the day being closed")]
    status: Literal["closing"] = Field(description="closing: the day's appointments still booked become missed")


def iso_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validation_fields(errors: list[Any]) -> list[str]:
    """Dotted field names out of pydantic's error list (``eligibility.basis``)."""
    names = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if not isinstance(part, int)]
        names.append(".".join(loc) if loc else "body")
    return names
