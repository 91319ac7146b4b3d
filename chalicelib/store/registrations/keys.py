"""Where a registration lives: a person's current one at ``p#<pointer>``, a superseded one under its
receipt code; the sparse indexes the background work reads; what is kept of a reclaimed code."""

from __future__ import annotations

import base64
import hashlib

from chalicelib.domain import rules
from chalicelib.store.types import Item

RELEASE_INDEX = "release-pending"
REMOVAL_INDEX = "removal-pending"
APPOINTMENT_PENDING_INDEX = "appointment-pending"
APPOINTMENT_DAY_INDEX = "appointment-day"


def home(pointer: bytes) -> str:
    """The key of a person's current registration."""
    return "p#" + base64.urlsafe_b64encode(pointer).decode("ascii").rstrip("=")


def key_of(code: str) -> str | None:
    """The key of the person a receipt code names (None: not a receipt code)."""
    pointer = rules.code_pointer(code)
    return home(pointer) if pointer is not None else None


def digest(code: str) -> str:
    """What a registration keeps of a receipt code a reclaim replaced: enough to recognise it, not
    the code itself (a copy of the table does not hand out codes that once worked)."""
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()[:32]


def reclaimed_from(item: Item, code: str) -> bool:
    """The person's item once had ``code``, which a counter reclaim replaced."""
    return digest(code) in (item.get("reclaimed") or [])
