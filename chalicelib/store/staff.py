"""Staff tokens (stored only as hashes) and the audit trail of staff actions."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.staff import AuditEntry, StaffToken
from chalicelib.store.codec import decode, encode, is_condition_failure, translated_errors, value


class StaffStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def put_token(self, token_hash: str, token: StaffToken) -> None:
        item = token.model_dump(mode="json") | {"pk": f"token#{token_hash}", "sk": "token"}
        with translated_errors():
            self._db.put_item(TableName=self._table, Item=encode(item), ConditionExpression="attribute_not_exists(pk)")
            self._db.put_item(
                TableName=self._table,
                Item=encode({"pk": f"tokenid#{token.token_id}", "sk": "token", "hash": token_hash}),
            )

    def token(self, token_hash: str) -> StaffToken | None:
        item = self._get(f"token#{token_hash}", "token")
        return StaffToken.model_validate(item) if item else None

    def revoke(self, token_id: str, now: datetime) -> bool:
        """Revoke a token by its public ID. False if there is no such token."""
        ref = self._get(f"tokenid#{token_id}", "token")
        if not ref:
            return False
        with translated_errors():
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key={"pk": value(f"token#{ref['hash']}"), "sk": value("token")},
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":now": value(now.isoformat())},
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def record(self, day: str, entry: AuditEntry) -> None:
        item = entry.model_dump(mode="json") | {
            "pk": f"audit#{day}",
            "sk": f"{entry.at.astimezone(UTC).isoformat()}#{secrets.token_hex(4)}",
        }
        with translated_errors():
            self._db.put_item(TableName=self._table, Item=encode(item))

    def audit(self, day: str) -> list[AuditEntry]:
        """Every staff action of a day (Bangkok time), oldest first."""
        entries: list[AuditEntry] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": value(f"audit#{day}")},
        }
        while True:
            with translated_errors():
                resp = self._db.query(**kwargs)
            entries.extend(AuditEntry.model_validate(decode(i)) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return entries
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _get(self, pk: str, sk: str) -> dict[str, Any]:
        with translated_errors():
            resp = self._db.get_item(TableName=self._table, Key={"pk": value(pk), "sk": value(sk)}, ConsistentRead=True)
        return decode(resp.get("Item") or {})
