"""Every queue message of the service: one pydantic discriminated union, used by whoever sends a
job (``model_dump``) and by the one reader of every queue (``jobs.queue``), which parses each body
into its model or sends it to the dead-letter queue as poison.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Release(_Job):
    """Hand on the place of a cancelled registration (promotion queue)."""

    kind: Literal["release"] = "release"
    registration_id: StrictStr = Field(min_length=1)


class RemovalSweep(_Job):
    """One batch of the removal sweep (removal queue); ``chain`` is the lease holder going on."""

    kind: Literal["removals"] = "removals"
    chain: StrictStr | None = None
    # The confirmations one container made (a list sweep); none: a sweep of the removal index.
    codes: list[StrictStr] = Field(default_factory=list, max_length=5000)
    # Tests and operators: look at removals due up to this moment rather than now.
    as_of: datetime | None = None


class LegacyRemoval(_Job):
    """A per-person removal job of the previous version, still queued at deploy: starts a sweep."""

    kind: Literal["remove"] = "remove"
    registration_id: StrictStr
    registry: StrictStr


class BatchChunk(_Job):
    kind: Literal["batch_chunk"] = "batch_chunk"
    batch_id: StrictStr = Field(min_length=1)
    chunk: StrictInt = Field(ge=0)


class Segment(_Job):
    """One segment of a reconciliation run, or its continuation (reconcile queue)."""

    kind: Literal["segment"] = "segment"
    run_id: StrictStr = Field(min_length=1)
    segment: StrictInt = Field(ge=0)
    full: bool = False
    cursor: dict[str, Any] | None = None
    tally: dict[str, StrictInt] = Field(default_factory=dict)


class RetentionSegment(_Job):
    """One segment of the retention job's scan, or its continuation (reconcile queue)."""

    kind: Literal["retention"] = "retention"
    segment: StrictInt = Field(ge=0)
    cursor: dict[str, Any] | None = None


class Allocate(_Job):
    kind: Literal["allocate"] = "allocate"
    cursor: dict[str, Any] | None = None


class AppointmentSms(_Job):
    kind: Literal["appointment_sms"] = "appointment_sms"
    registration_id: StrictStr = Field(min_length=1)


class CloseDay(_Job):
    """One chunk of closing a past day: its appointments still booked become missed."""

    kind: Literal["close_day"] = "close_day"
    day: date
    cursor: dict[str, Any] | None = None


class VerificationSms(_Job):
    kind: Literal["verification_sms"] = "verification_sms"
    verification_id: StrictStr = Field(min_length=1)


class ReceiptSms(_Job):
    kind: Literal["receipt_sms"] = "receipt_sms"
    registration_id: StrictStr = Field(min_length=1)
    nonce: StrictStr = Field(min_length=1)


Job = Annotated[
    Release
    | RemovalSweep
    | LegacyRemoval
    | BatchChunk
    | Segment
    | RetentionSegment
    | Allocate
    | CloseDay
    | AppointmentSms
    | VerificationSms
    | ReceiptSms,
    Field(discriminator="kind"),
]
JOB: TypeAdapter[Job] = TypeAdapter(Job)
