"""Short-lived guards in one table (``attempts``, TTL ``expires_at``): phone verifications, how many
codes a phone was sent, birth-date attempts per national ID or registration, receipt-code SMS.

Keys (``pk``): ``pv#<first 96 bits of the phone's keyed hash>`` (its send window and its
verifications),
``fail#id#<keyed hash of the national ID>``, ``fail#reg#<sha256 of the registration ID>``,
``receipt#<sha256 of the registration ID>``, ``refused#<staff token ID>#<minute>`` (refused staff
calls the audit trail recorded one by one). No national ID is stored; a phone's item keeps the
phone, sealed (``store/fields.py``: the SMS worker sends to it), and is gone a day after its last
code expired.

Every limit is a conditional single-item write: a count goes up only if it is under its limit
at that instant, so concurrent requests can never count past it. TTL deletion lags (up to two
days on AWS), so every condition compares the item's own times and never relies on it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.staff import REFUSED_AUDIT_PER_MINUTE
from chalicelib.domain.verification import (
    CODE_TTL_SECONDS,
    CODES_PER_DAY,
    DAY_SECONDS,
    LOCKOUT_FAILURES,
    LOCKOUT_WINDOW_SECONDS,
    PHONE_KEY_BYTES,
    RECEIPT_RESEND_SECONDS,
    RECEIPTS_PER_DAY,
    RESEND_AFTER_SECONDS,
    VERIFICATION_KEEP_SECONDS,
    WRONG_CODES_ALLOWED,
    phone_key_of,
)
from chalicelib.store.fields import Fields
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item, PendingVerification


class _Guards:
    """The table's two operations: a conditional update that answers the old item when refused,
    and a consistent read."""

    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk",))

    def update(
        self,
        pk: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        return_new: bool = False,
        names: dict[str, str] | None = None,
    ) -> tuple[bool, dict[str, Any]]:
        """(applied, item): the new item if applied and ``return_new``, else the item as it was."""
        try:
            return True, self._t.update(
                (pk,), update, condition, values, names=names, returns="ALL_NEW" if return_new else "NONE"
            )
        except ConditionFailed as failed:
            return False, failed.old

    def put_new(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """(applied, the item found instead): a put only if no item has this key."""
        try:
            self._t.put(item)
            return True, {}
        except ConditionFailed as failed:
            return False, failed.old

    def get_many(self, pks: list[str]) -> dict[str, dict[str, Any]]:
        """The items with these keys that exist, by key (consistent; 100 a request, unprocessed retried)."""
        return {str(item["pk"]): item for item in self._t.batch_get([(pk,) for pk in dict.fromkeys(pks)])}

    def get(self, pk: str) -> dict[str, Any]:
        return self._t.get(pk)

    def window_count(
        self, pk: str, now: int, limit: int, window: int, gap: int | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """Count one more in the item's fixed window (``win`` .. ``win + window``) if under ``limit``
        and, with ``gap``, if the last one counted is at least ``gap`` seconds old. A window that is
        over (or an item without one) starts again at ``now``. Returns (True, the item as counted)
        or (False, the item that refused it)."""
        fresh_ok, _ = self.update(
            pk,
            "SET win = :now, n = :one, sent_at = :now, expires_at = :until",
            "attribute_not_exists(win) OR win <= :start",
            {":now": now, ":one": 1, ":start": now - window, ":until": now + window},
        )
        if fresh_ok:
            return True, {"win": now, "n": 1, "sent_at": now}
        condition = "win > :start AND n < :limit"
        values = {":now": now, ":one": 1, ":start": now - window, ":limit": limit}
        if gap is not None:
            condition += " AND sent_at <= :gap"
            values[":gap"] = now - gap
        counted, item = self.update(pk, "ADD n :one SET sent_at = :now", condition, values, return_new=True)
        if counted:
            return True, item
        return False, item or {"win": now, "n": limit, "sent_at": now}


class VerificationStore:
    """One item per phone (``pv#<phone key>``, the first 96 bits of its keyed hash): the phone's
    send window (``win``, ``n``, ``sent_at``) and its verifications (``vers``: the ID's text after
    ``v_`` -> ``exp``, the code's expiry; ``wrong``; ``confirmed_at``). A verification ID carries
    the phone key, so every operation is one write to a key known in advance: a new phone's code is
    one ``PutItem``, a confirmation one ``UpdateItem``, the SMS worker's read one ``GetItem``.
    """

    # Compare-and-set rounds for a phone's send when requests for the same phone race.
    ROUNDS = 4

    def __init__(self, client: Any, table: str, fields: Fields) -> None:
        self._t = _Guards(client, table)
        self._fields = fields

    @staticmethod
    def _pk(phone_key: str) -> str:
        return f"pv#{phone_key[: 2 * PHONE_KEY_BYTES]}"

    def _phone(self, item: Item) -> str:
        """The phone a phone's item keeps, opened (one stored before encryption as it is)."""
        return str(self._fields.open(str(item["pk"]), item, ("phone",))["phone"])

    def start(self, phone_key: str, phone: str, verification_id: str, now: int) -> int:
        """Count one code for the phone (at most one a minute and ``CODES_PER_DAY`` a day) and record
        the verification with it, in one conditional write (two when the phone had codes before).

        Returns 0 if recorded, else the seconds until the next code may go.
        """
        entry = {"exp": now + CODE_TTL_SECONDS, "wrong": 0}
        sealed = self._fields.seal(self._pk(phone_key), {"phone": phone})["phone"]
        # Kept until the window is over and the last code has been dead a day (a late confirm: 422).
        until = now + max(DAY_SECONDS, CODE_TTL_SECONDS + VERIFICATION_KEEP_SECONDS)
        ref = verification_id[2:]
        applied, old = self._create(phone_key, sealed, ref, entry, now, until)
        for _ in range(self.ROUNDS):
            if applied:
                return 0
            if not old:  # gone since it refused the first write (TTL): a new phone again
                applied, old = self._create(phone_key, sealed, ref, entry, now, until)
                continue
            win, n, sent_at = int(old["win"]), int(old["n"]), int(old["sent_at"])
            fresh = win <= now - DAY_SECONDS
            if not fresh and (n >= CODES_PER_DAY or sent_at > now - RESEND_AFTER_SECONDS):
                day_left = win + DAY_SECONDS - now if n >= CODES_PER_DAY else 0
                return max(1, day_left, sent_at + RESEND_AFTER_SECONDS - now)
            # Verifications dead for a day are dropped as new ones come; only those (nobody can
            # change them any more: every confirmation requires a live code).
            dead = [
                k
                for k, e in dict(old.get("vers") or {}).items()
                if int(e["exp"]) + VERIFICATION_KEEP_SECONDS < now and k != ref
            ]
            names = {"#r": ref, **{f"#d{i}": k for i, k in enumerate(dead)}}
            count = "win = :now, n = :one" if fresh else "n = n + :one"
            update = f"SET {count}, sent_at = :now, expires_at = :until, phone = :phone, vers.#r = :entry"
            if dead:
                update += " REMOVE " + ", ".join(f"vers.#d{i}" for i in range(len(dead)))
            # As read: the same window and count (a racing send makes this fail and go round again),
            # and never over another verification (32 random bits a phone: a collision is a 429).
            applied, old = self._t.update(
                self._pk(phone_key),
                update,
                "win = :win AND n = :n AND sent_at = :sent AND attribute_not_exists(vers.#r)",
                {
                    ":now": now,
                    ":one": 1,
                    ":until": until,
                    ":phone": sealed,
                    ":entry": entry,
                    ":win": win,
                    ":n": n,
                    ":sent": sent_at,
                },
                names=names,
            )
        if applied:
            return 0
        return RESEND_AFTER_SECONDS  # sends of this phone raced the whole time: one of them won

    def _create(
        self, phone_key: str, phone: bytes | None, ref: str, entry: dict[str, int], now: int, until: int
    ) -> tuple[bool, dict[str, Any]]:
        """A phone's first code (or its first since its item expired); refused: the item as it is."""
        return self._t.put_new(
            {
                "pk": self._pk(phone_key),
                "win": now,
                "n": 1,
                "sent_at": now,
                "expires_at": until,
                "phone": phone,
                "vers": {ref: entry},
            }
        )

    def pending(self, verification_id: str) -> PendingVerification | None:
        """The verification's phone and code expiry (None: unknown)."""
        item = self._t.get(self._pk(phone_key_of(verification_id)))
        found = (item.get("vers") or {}).get(verification_id[2:])
        if not found:
            return None
        return PendingVerification(phone=self._phone(item), code_expires=int(found["exp"]))

    def pending_many(self, verification_ids: list[str]) -> dict[str, PendingVerification | None]:
        """``pending`` of each verification, with one read per 100 phones (the SMS worker's batch)."""
        items = self._t.get_many([self._pk(phone_key_of(i)) for i in verification_ids])
        out: dict[str, PendingVerification | None] = {}
        for vid in verification_ids:
            item = items.get(self._pk(phone_key_of(vid))) or {}
            found = (item.get("vers") or {}).get(vid[2:])
            out[vid] = PendingVerification(phone=self._phone(item), code_expires=int(found["exp"])) if found else None
        return out

    def entry(self, verification_id: str) -> dict[str, Any]:
        """The verification's own record (``exp``, ``wrong``, ``confirmed_at``); {} if unknown."""
        item = self._t.get(self._pk(phone_key_of(verification_id)))
        return dict((item.get("vers") or {}).get(verification_id[2:]) or {})

    def settle(self, verification_id: str, right: bool, now: int) -> tuple[str, str | None]:
        """Record one try of a code; the decision holds only if the verification is still live.

        Returns ("ok", phone) for a right code on a live verification, ("wrong", None) for a wrong
        code counted against it, ("spent", None) when it has expired or had ``WRONG_CODES_ALLOWED``
        wrong codes (or this try was one too many), ("unknown", None) when there is no such one.
        """
        live = "#v.#r.wrong < :max AND #v.#r.exp > :now"
        values = {":max": WRONG_CODES_ALLOWED, ":now": now}
        names = {"#v": "vers", "#r": verification_id[2:]}
        if right:
            update, more = "SET #v.#r.confirmed_at = :now", {}
        else:
            update, more = "SET #v.#r.wrong = #v.#r.wrong + :one", {":one": 1}
        applied, item = self._t.update(
            self._pk(phone_key_of(verification_id)), update, live, {**values, **more}, return_new=True, names=names
        )
        if applied:
            return ("ok", self._phone(item)) if right else ("wrong", None)
        return ("spent", None) if (item.get("vers") or {}).get(verification_id[2:]) else ("unknown", None)


class AttemptStore:
    """Birth-date comparisons per key (``LOCKOUT_FAILURES`` an hour, successes included) and
    receipt SMS per registration (``RECEIPTS_PER_DAY``)."""

    def __init__(self, client: Any, table: str) -> None:
        self._t = _Guards(client, table)

    def take(self, key: str, now: int) -> int:
        """Take one of the key's attempts for this hour: counted only while fewer than
        ``LOCKOUT_FAILURES`` are, in one conditional write (two when the key has a live window).

        Returns 0 if taken, else the seconds until the lockout is over.
        """
        taken, item = self._t.window_count(f"fail#{key}", now, LOCKOUT_FAILURES, LOCKOUT_WINDOW_SECONDS)
        return 0 if taken else max(1, int(item.get("win", now)) + LOCKOUT_WINDOW_SECONDS - now)

    def take_refused_audit(self, token_id: str, minute: int) -> bool:
        """True for the first ``REFUSED_AUDIT_PER_MINUTE`` refused calls of a staff token in a
        minute (``minute``: since the epoch): one conditional write on the minute's own item."""
        applied, _ = self._t.update(
            f"refused#{token_id}#{minute}",
            "ADD n :one SET expires_at = :until",
            "attribute_not_exists(n) OR n < :limit",
            {":one": 1, ":limit": REFUSED_AUDIT_PER_MINUTE, ":until": (minute + 2) * 60},
        )
        return applied

    def take_receipt(self, key: str, now: int) -> bool:
        """True at most ``RECEIPTS_PER_DAY`` times per 24 hours per registration, and at most once
        per ``RECEIPT_RESEND_SECONDS`` (a double tap spends one): counted with a conditional write."""
        taken, _ = self._t.window_count(
            f"receipt#{key}", now, RECEIPTS_PER_DAY, DAY_SECONDS, gap=RECEIPT_RESEND_SECONDS
        )
        return taken
