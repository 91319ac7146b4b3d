"""Staff tokens, roles and the audit trail: models and rules."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool

TOKEN_PREFIX = "kkt_"  # noqa: S105 - a public prefix, not a secret  # nosec B105


class Role(StrEnum):
    COUNTER = "counter"
    ORG = "org"
    SITE = "site"  # vaccination-site staff: check people in
    ADMIN = "admin"


class StaffToken(BaseModel):
    """A token's record: its hash is the key; the token itself is never stored."""

    token_id: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


class Principal(BaseModel):
    """Who is calling: what the authorizer hands to the views."""

    token_id: str
    role: Role
    label: str

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


class ChannelSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: StrictBool = Field(description="true opens the channel, false closes it")


class ChannelState(BaseModel):
    channel: str
    open: bool


def new_token() -> tuple[str, str]:
    """(token, token_id): 256 random bits, and a short public ID to name it in lists and revocations."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32), "t_" + secrets.token_hex(6)


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
    primary: Used
    reserve: Used
    registrations: RegistrationCounts
    removals: dict[str, RemovalCounts] = Field(description="mor_phrom, khon_kaen_phrom")


class AuditLog(BaseModel):
    date: str
    entries: list[AuditEntry]
