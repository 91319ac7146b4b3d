"""The bench's people: valid Thai national IDs and registration bodies, the n-th of a run each.

The bench's own, not the tests' nor the service's: it checks the service from outside, so its IDs
carry a check digit computed here (the service must accept them, not supply them).
"""

from __future__ import annotations

import copy
from typing import Any

BASE_BODY: dict[str, Any] = {
    "national_id": "1101700230708",
    "first_name": "สมชาย",
    "last_name": "ใจดี",
    "birth_date": "1980-01-31",
    "phone": "0812345678",
    "eligibility": {"basis": "house_registration", "detail": "12 ถ.หน้าเมือง ต.ในเมือง"},
    "consent": True,
}


def check_digit(first12: str) -> int:
    """The 13th digit of a Thai national ID: each of the first 12 weighted 13 down to 2, mod 11."""
    total = sum(int(digit) * (13 - i) for i, digit in enumerate(first12))
    return (11 - total % 11) % 10


def national_id(n: int) -> str:
    """The n-th valid national ID of a run (distinct for distinct n)."""
    first12 = f"1{n:011d}"
    return first12 + str(check_digit(first12))


def body(n: int | None = None, **changes: Any) -> dict[str, Any]:
    """A valid app registration body (without a verification token): the n-th person's, with ``changes``."""
    data = copy.deepcopy(BASE_BODY)
    if n is not None:
        data["national_id"] = national_id(n)
    data.update(changes)
    return data
