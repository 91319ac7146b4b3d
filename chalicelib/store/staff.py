"""Staff tokens (stored only as hashes) and the audit trail of staff actions.

``token#<sha256 of the token>`` / ``token``   a token's record
``tokenid#<token_id>`` / ``token``            its hash, by its public ID (revocation)
``audit#<day>`` / ``<at, UTC ISO>#<random>``  one staff action (the day in Bangkok time)
``audit#<day>`` / ``<minute's last instant>#suppressed#<token_id>``
                                              a token's refused calls of that minute past the ones
                                              recorded one by one: one item, a count

An entry about a registration names it by a keyed reference (``registration_ref=<code_ref>``), never
by its receipt code; the sparse index ``audit-target`` (entries with a ``target``) finds every entry
about one registration, for the person's own data (``POST /v1/registrations/{id}/data``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.staff import AuditEntry, StaffToken
from chalicelib.store.table import ConditionFailed, Table

AUDIT_TARGET_INDEX = "audit-target"


class StaffStore:
    def __init__(self, client: Any, table: str) -> None:
        self._t = Table(client, table, ("pk", "sk"))

    def put_token(self, token_hash: str, token: StaffToken) -> None:
        """Store a new token (its hash) and the reference from its public ID. Raises Conflict on a
        hash already stored."""
        self._t.put(token.model_dump(mode="json") | {"pk": f"token#{token_hash}", "sk": "token"})
        self._t.overwrite({"pk": f"tokenid#{token.token_id}", "sk": "token", "hash": token_hash})

    def token(self, token_hash: str) -> StaffToken | None:
        item = self._t.get(f"token#{token_hash}", "token")
        return StaffToken.model_validate(item) if item else None

    def revoke(self, token_id: str, now: datetime) -> bool:
        """Revoke a token by its public ID. False if there is no such token."""
        ref = self._t.get(f"tokenid#{token_id}", "token")
        if not ref:
            return False
        try:
            self._t.update(
                (f"token#{ref['hash']}", "token"),
                "SET revoked_at = if_not_exists(revoked_at, :now)",
                "attribute_exists(pk)",
                {":now": now.isoformat()},
            )
        except ConditionFailed:
            return False
        return True

    def record(self, day: str, entry: AuditEntry) -> None:
        item = entry.model_dump(mode="json") | {
            "pk": f"audit#{day}",
            "sk": f"{entry.at.astimezone(UTC).isoformat()}#{secrets.token_hex(4)}",
        }
        self._t.overwrite(item)

    def count_suppressed(self, day: str, entry: AuditEntry) -> None:
        """Count one more suppressed refusal on the token's entry for the minute ending at
        ``entry.at`` (made by the first, with that one's status). One update: the day's trail
        grows by one item per token and minute, however many refusals there are."""
        self._t.update(
            (f"audit#{day}", f"{entry.at.astimezone(UTC).isoformat()}#suppressed#{entry.token_id}"),
            "SET #at = :at, token_id = :token, #role = :role, label = :label, #action = :action, "
            "#status = if_not_exists(#status, :status) ADD suppressed :one",
            None,
            {
                ":at": entry.at.astimezone(UTC).isoformat(),
                ":token": entry.token_id,
                ":role": entry.role.value,
                ":label": entry.label,
                ":action": entry.action,
                ":status": entry.status,
                ":one": 1,
            },
            names={"#at": "at", "#role": "role", "#action": "action", "#status": "status"},
        )

    def audit_of(self, target: str) -> list[AuditEntry]:
        """Every staff action whose target is ``target``, oldest first (one registration has a few)."""
        items = self._t.query("#t = :t", {":t": target}, index=AUDIT_TARGET_INDEX, names={"#t": "target"})
        return [AuditEntry.model_validate(i) for i in sorted(items, key=lambda i: str(i["sk"]))]

    def audit_page(self, day: str, after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        """Up to ``limit`` staff actions of a day (Bangkok time), oldest first, from the one after
        the sort key ``after``; and the sort key to go on after (None: that was the last)."""
        pk = f"audit#{day}"
        cursor = {"pk": {"S": pk}, "sk": {"S": after}} if after else None
        # One more than asked: a next page is promised only if it has an entry.
        page = self._t.query_page("pk = :pk", {":pk": pk}, cursor=cursor, limit=limit + 1)
        items = page.items[:limit]
        more = len(page.items) > limit
        return [AuditEntry.model_validate(i) for i in items], str(items[-1]["sk"]) if more else None
