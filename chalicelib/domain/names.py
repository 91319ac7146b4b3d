"""The plain values a route declaration names: channels, staff roles, the patterns of path IDs.

No pydantic here: ``import app`` registers every route from these, and builds no model to do so.
The model modules re-export them where they were first defined.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    APP = "app"
    COUNTER = "counter"
    ORG = "org"


class Role(StrEnum):
    COUNTER = "counter"
    ORG = "org"
    SITE = "site"  # vaccination-site staff: check people in
    ADMIN = "admin"


DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
VERIFICATION_ID_PATTERN = "^v_[A-Za-z0-9_-]{22}$"
# A waiting-room ticket: q_ + URL-safe base64 of 26 bytes (chalicelib/domain/queue.py).
TICKET_PATTERN = "^q_[A-Za-z0-9_-]{35}$"
# An employer's list as text/csv: its header row.
CSV_COLUMNS = ("national_id", "first_name", "last_name", "birth_date", "phone", "basis", "detail", "consent")
