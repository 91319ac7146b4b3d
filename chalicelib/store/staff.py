"""Staff tokens (stored only as hashes) and the audit trail of staff actions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.staff import AuditEntry, StaffToken
from chalicelib.store.table import ConditionFailed, Table


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

    def audit(self, day: str) -> list[AuditEntry]:
        """Every staff action of a day (Bangkok time), oldest first."""
        return [AuditEntry.model_validate(i) for i in self._t.query("pk = :pk", {":pk": f"audit#{day}"})]
