"""Short-lived guards in one table (``attempts``, TTL ``expires_at``): phone verifications, how many
codes a phone was sent, wrong birth dates per national ID or registration, receipt-code resends.

Keys (``pk``): ``ver#<verification id>``, ``phone#<keyed hash of the phone>``,
``fail#id#<keyed hash of the national ID>``, ``fail#reg#<sha256 of the registration ID>``,
``receipt#<sha256 of the registration ID>``. No national ID is stored; a verification keeps its
phone (the SMS worker sends to it) and is gone a day after its code expired.

Every limit is a conditional single-item write: a count goes up only if it is under its limit
at that instant, so concurrent requests can never count past it. TTL deletion lags (up to two
days on AWS), so every condition compares the item's own times and never relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain import verification as v
from chalicelib.store.table import ConditionFailed, Table


@dataclass(frozen=True)
class PendingVerification:
    phone: str
    code_expires: int


class _Guards:
    """The table's two operations: a conditional update that answers the old item when refused,
    and a consistent read."""

    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk",))

    def update(
        self, pk: str, update: str, condition: str, values: dict[str, Any], return_new: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        """(applied, item): the new item if applied and ``return_new``, else the item as it was."""
        try:
            return True, self._t.update((pk,), update, condition, values, returns="ALL_NEW" if return_new else "NONE")
        except ConditionFailed as failed:
            return False, failed.old

    def get(self, pk: str) -> dict[str, Any]:
        return self._t.get(pk)

    def window_count(self, pk: str, now: int, limit: int, window: int, gap: int | None = None) -> dict[str, Any]:
        """Count one more in the item's fixed window (``win`` .. ``win + window``) if under ``limit``
        and, with ``gap``, if the last one counted is at least ``gap`` seconds old. A window that is
        over starts again at ``now``. Returns {} if counted, else the item that refused it."""
        fresh_ok, _ = self.update(
            pk,
            "SET win = :now, n = :one, sent_at = :now, expires_at = :until",
            "attribute_not_exists(pk) OR win <= :start",
            {":now": now, ":one": 1, ":start": now - window, ":until": now + window},
        )
        if fresh_ok:
            return {}
        condition = "win > :start AND n < :limit"
        values = {":now": now, ":one": 1, ":start": now - window, ":limit": limit}
        if gap is not None:
            condition += " AND sent_at <= :gap"
            values[":gap"] = now - gap
        counted, old = self.update(pk, "ADD n :one SET sent_at = :now", condition, values)
        if counted:
            return {}
        return old or {"win": now, "n": limit, "sent_at": now}


class VerificationStore:
    def __init__(self, client: Any, table: str) -> None:
        self._t = _Guards(client, table)

    def take_send(self, phone_key: str, now: int) -> int:
        """Count one code for the phone: at most one a minute and ``CODES_PER_DAY`` a day.

        Returns 0 if counted, else the seconds until the next code may go.
        """
        old = self._t.window_count(
            f"phone#{phone_key}",
            now,
            v.CODES_PER_DAY,
            v.DAY_SECONDS,
            gap=v.RESEND_AFTER_SECONDS,
        )
        if not old:
            return 0
        day_left = int(old.get("win", now)) + v.DAY_SECONDS - now if int(old.get("n", 0)) >= v.CODES_PER_DAY else 0
        minute_left = int(old.get("sent_at", now)) + v.RESEND_AFTER_SECONDS - now
        return max(1, day_left, minute_left)

    def put(self, verification_id: str, phone: str, now: int) -> None:
        """Record a new verification (its code is derived from its ID, never stored)."""
        expires = now + v.CODE_TTL_SECONDS
        applied, _ = self._t.update(
            f"ver#{verification_id}",
            "SET phone = :phone, code_exp = :exp, wrong = :zero, expires_at = :gone",
            "attribute_not_exists(pk)",
            {":phone": phone, ":exp": expires, ":zero": 0, ":gone": expires + v.VERIFICATION_KEEP_SECONDS},
        )
        if not applied:
            raise RuntimeError("verification ID collision")  # 128 random bits: not in this universe

    def pending(self, verification_id: str) -> PendingVerification | None:
        item = self._t.get(f"ver#{verification_id}")
        if not item:
            return None
        return PendingVerification(phone=str(item["phone"]), code_expires=int(item["code_exp"]))

    def settle(self, verification_id: str, right: bool, now: int) -> tuple[str, str | None]:
        """Record one try of a code; the decision holds only if the verification is still live.

        Returns ("ok", phone) for a right code on a live verification, ("wrong", None) for a wrong
        code counted against it, ("spent", None) when it has expired or had ``WRONG_CODES_ALLOWED``
        wrong codes (or this try was one too many), ("unknown", None) when there is no such one.
        """
        live = "attribute_exists(pk) AND wrong < :max AND code_exp > :now"
        values = {":max": v.WRONG_CODES_ALLOWED, ":now": now}
        if right:
            applied, item = self._t.update(
                f"ver#{verification_id}", "SET confirmed_at = :now", live, values, return_new=True
            )
        else:
            applied, item = self._t.update(
                f"ver#{verification_id}", "ADD wrong :one", live, {**values, ":one": 1}, return_new=True
            )
        if applied:
            return ("ok", str(item["phone"])) if right else ("wrong", None)
        return ("spent", None) if item else ("unknown", None)


class AttemptStore:
    """Failures (wrong birth dates) per key, ``LOCKOUT_FAILURES`` an hour; receipt resends."""

    def __init__(self, client: Any, table: str) -> None:
        self._t = _Guards(client, table)

    def locked_for(self, key: str, now: int) -> int:
        """Seconds until the key's lockout is over; 0 if it is not locked."""
        item = self._t.get(f"fail#{key}")
        if item and int(item.get("n", 0)) >= v.LOCKOUT_FAILURES and int(item["win"]) + v.LOCKOUT_WINDOW_SECONDS > now:
            return int(item["win"]) + v.LOCKOUT_WINDOW_SECONDS - now
        return 0

    def fail(self, key: str, now: int) -> int:
        """Count a failure. Returns 0 if counted, else (the limit was reached first) the seconds
        until the lockout is over."""
        old = self._t.window_count(f"fail#{key}", now, v.LOCKOUT_FAILURES, v.LOCKOUT_WINDOW_SECONDS)
        if not old:
            return 0
        return max(1, int(old.get("win", now)) + v.LOCKOUT_WINDOW_SECONDS - now)

    def take_receipt(self, key: str, now: int) -> bool:
        """True at most once per ``RECEIPT_RESEND_SECONDS`` per registration."""
        applied, _ = self._t.update(
            f"receipt#{key}",
            "SET sent_at = :now, expires_at = :until",
            "attribute_not_exists(pk) OR sent_at <= :gap",
            {":now": now, ":gap": now - v.RECEIPT_RESEND_SECONDS, ":until": now + v.RECEIPT_RESEND_SECONDS},
        )
        return applied
