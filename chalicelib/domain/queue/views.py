"""The waiting room's route bodies and answers (contract v1.2): what a person sends to join, what
a ticket and the line look like, the admin's figures and the pace an admin sets."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StrictInt

from chalicelib.domain.models import Phone, _Body
from chalicelib.domain.queue.pace import QueueStatus
from chalicelib.domain.queue.standing import TicketStatus
from chalicelib.domain.verification import VerificationTokenText


class JoinRequest(_Body):
    """``{"verification_token"}``, or ``{"phone"}`` when phone verification is off."""

    verification_token: VerificationTokenText | None = Field(
        default=None, description="from POST /v1/verifications/{id}/confirm; required unless verification is off"
    )
    phone: Phone | None = Field(default=None, description="only when PHONE_VERIFICATION is off")


class TicketView(BaseModel):
    ticket: str = Field(description="q_ + the ticket's ID", examples=["q_AWlVxnAAAaNfg6z8Yh0sJk3bXQ7c8Vqe0lB2"])
    status: TicketStatus
    position: int | None = Field(description="1-based place in line; null for a few seconds after joining")
    ahead: int | None = Field(description="people ahead: position - serving")
    estimated_wait_s: int | None = Field(description="seconds until admission, at the current pace")
    poll_after_s: int = Field(description="when to ask about this ticket again (meanwhile read GET /v1/queue)")
    opens_at: str | None = Field(description="the opening (ISO 8601 UTC); null: open")
    admission_token: str | None = Field(
        default=None, description="admitted only: send it with each registration of this phone until admitted_until"
    )
    admitted_until: str | None = Field(default=None, description="admitted only (ISO 8601 UTC)")


class QueueView(BaseModel):
    status: QueueStatus
    opens_at: str | None = Field(description="the opening (ISO 8601 UTC); null: open")
    serving: int = Field(description="everyone up to this position has been admitted")
    waiting: int = Field(description="people in line not admitted yet")
    admit_per_minute: int


class AdminQueueView(QueueView):
    joined: int = Field(description="people given a place in line (before the opening: counted so far)")
    admitted: int = Field(description="positions admitted so far (serving)")
    oldest_wait_s: int = Field(description="how long the next person to be admitted has waited")
    sequenced_to: str | None = Field(description="joins up to this second have their place (ISO 8601 UTC)")


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 5000.0 (a number with no fraction); a string or a bool stays
    refused by StrictInt, and 5000.5 too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AdmitRate(_Body):
    admit_per_minute: Annotated[StrictInt, BeforeValidator(_whole_number)] = Field(
        ge=0, le=100_000, description="households admitted a minute; 0 pauses the line"
    )
