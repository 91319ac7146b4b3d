"""Staff tokens, roles and the audit trail: models and rules."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from chalicelib.domain import rules
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.models import ABSENT_NOT_NULL
from chalicelib.domain.names import Role as Role

TOKEN_PREFIX = "kkt_"  # noqa: S105 - a public prefix, not a secret  # nosec B105
# A token lives this many days unless `make token DAYS=…` says otherwise; a lost or forgotten token
# stops working by itself.
DEFAULT_TOKEN_DAYS = 30
MAX_TOKEN_DAYS = 366
# Refused calls (4xx) one token may add to the audit trail in a minute, one entry each; past that the
# minute's further refusals are one entry that counts them (``audit.suppressed``), so a token
# hammering a route it may not use cannot grow the day's trail without bound.
REFUSED_AUDIT_PER_MINUTE = 10
SUPPRESSED_ACTION = "audit.suppressed"
# Entries a page of ``GET /v1/admin/audit``: a page stays far under Lambda's 6 MB answer.
AUDIT_PAGE_DEFAULT = 500
AUDIT_PAGE_MAX = 1000
# An audit cursor: base64url of the last entry's sort key (~60 characters), a dot, a 128-bit MAC.
AUDIT_CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,200}\\.[A-Za-z0-9_-]{22}$"


class StaffToken(BaseModel):
    """A token's record: its hash is the key; the token itself is never stored."""

    token_id: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None = None
    # None only for a token issued before tokens expired: it lives DEFAULT_TOKEN_DAYS from creation.
    expires_at: datetime | None = None

    def expiry(self) -> datetime:
        return self.expires_at or self.created_at + timedelta(days=DEFAULT_TOKEN_DAYS)

    def live(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and now < self.expiry()


class Principal(BaseModel):
    """Who is calling: what the authorizer hands to the views."""

    token_id: str
    role: Role
    label: str
    expires_at: datetime

    def may(self, *roles: Role) -> bool:
        return self.role is Role.ADMIN or self.role in roles


class AuditEntry(BaseModel):
    at: datetime
    token_id: str
    role: Role
    label: str
    action: str
    status: int
    target: str | None = None
    suppressed: int = Field(
        default=0,
        description=f"{SUPPRESSED_ACTION} only: refused calls of this token in this minute past the first"
        f" {REFUSED_AUDIT_PER_MINUTE}, counted here instead of one entry each (``status``: the first's)",
    )


class ChannelSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: StrictBool = Field(description="true opens the channel, false closes it")


class ChannelState(BaseModel):
    channel: str
    open: bool


def new_token() -> tuple[str, str]:
    """(token, token_id): 256 random bits, and a short public ID to name it in lists and revocations."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32), "t_" + secrets.token_hex(6)


def clean_label(raw: str) -> str:
    """A token's label (who holds it; shown in the audit trail and the exports): 1-100 characters.

    Raises ValidationFailed naming ``label`` for a blank one or one with hidden characters.
    """
    try:
        return rules.clean_text(raw, 100)
    except ValueError:
        raise ValidationFailed(["label"]) from None


def token_days(raw: object) -> int:
    """How many days a new token lives: a whole number from 1 to MAX_TOKEN_DAYS.

    Raises ValidationFailed naming ``days``.
    """
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TOKEN_DAYS:
        raise ValidationFailed(["days"])
    return raw


def token_hash(token: str) -> str:
    # The token carries 256 random bits, so a plain hash cannot be reversed by guessing.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None if it is not one."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 100 or " " in token:
        return None
    return token


class Used(BaseModel):
    capacity: int
    used: int


class RegistrationCounts(BaseModel):
    by_channel: dict[str, int] = Field(description="app, counter, org: registrations made on each")
    by_status: dict[str, int] = Field(description="confirmed, reserve, cancelled: registrations in each now")


class RemovalCounts(BaseModel):
    pending: int
    removed: int
    not_found: int
    failed: int


class Summary(BaseModel):
    # Sent without ``as_of`` until a removal sweep has first ended (``api.http.respond`` reads this).
    omit_none: ClassVar[bool] = True

    primary: Used
    reserve: Used
    registrations: RegistrationCounts
    removals: dict[str, RemovalCounts] = Field(description="mor_phrom, khon_kaen_phrom")
    as_of: str | None = Field(
        default=None,
        description="ISO 8601 UTC: registrations and removals count every registration made before it. A"
        " direct confirmation is counted by the removal sweep (seconds after it in a busy minute, at most"
        " about 2 minutes after the last of a burst); reserve entries, promotions and cancellations at once",
        examples=["2026-07-06T08:14:00Z"],
        json_schema_extra=ABSENT_NOT_NULL,
    )


class AuditLog(BaseModel):
    date: str
    entries: list[AuditEntry] = Field(description="oldest first")
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last page")


def audit_cursor(key: bytes, day: str, position: str) -> str:
    """The opaque cursor of a page of ``day``'s audit trail that starts after ``position`` (the last
    entry's sort key): the position and a MAC over the day and the position, so a cursor cannot be
    made up, changed, or used for another day."""
    text = base64.urlsafe_b64encode(position.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{text}.{_cursor_mac(key, day, position)}"


def audit_position(key: bytes, day: str, cursor: str) -> str:
    """The position an ``audit_cursor`` of ``day`` stands for. Raises ValidationFailed naming
    ``cursor`` for anything else."""
    text, _, mac = cursor.partition(".")
    try:
        position = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(["cursor"]) from None
    if not hmac.compare_digest(mac.encode("utf-8", "surrogatepass"), _cursor_mac(key, day, position).encode()):
        raise ValidationFailed(["cursor"])
    return position


def _cursor_mac(key: bytes, day: str, position: str) -> str:
    digest = hmac.new(key, f"audit-cursor\x00{day}\x00{position}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")
