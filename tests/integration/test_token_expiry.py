"""Expired staff tokens get 401 unauthorized, like revoked ones (contract v1.1, "Staff tokens")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.staff import Role, StaffToken, new_token, token_hash
from chalicelib.services import staff
from chalicelib.store.factory import stores


def planted(created_days_ago: float, expires_in_days: float | None, role: Role = Role.ADMIN) -> str:
    """A token stored as `make token` would have stored it, at another time."""
    token, token_id = new_token()
    now = datetime.now(UTC)
    record = StaffToken(
        token_id=token_id,
        role=role,
        label=f"{role.value} desk",
        created_at=now - timedelta(days=created_days_ago),
        expires_at=None if expires_in_days is None else now + timedelta(days=expires_in_days),
    )
    stores().staff.put_token(token_hash(token), record)
    return token


def summary(client: Any, token: str) -> Any:
    return client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("created_days_ago", "expires_in_days", "status"),
    [
        (29, 1, 200),
        (31, -1, 401),
        (1, -(1 / 24), 401),  # a short-lived token, expired an hour ago
        (29, None, 200),  # from before tokens expired: 30 days from its creation
        (31, None, 401),
    ],
)
def test_a_token_answers_until_it_expires(
    client: Any, created_days_ago: float, expires_in_days: float | None, status: int
) -> None:
    # Given a token issued some days ago / When it calls a staff route / Then 200 while live, else 401
    resp = summary(client, planted(created_days_ago, expires_in_days))
    assert resp.status_code == status
    if status == 401:
        assert resp.json_body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("expires_in_days", "status"), [(1, 404), (-1, 401)])
def test_a_site_token_expires_like_the_others(client: Any, expires_in_days: float, status: int) -> None:
    # Given a vaccination-site token, live or expired a day ago
    token = planted(29, expires_in_days, Role.SITE)
    # When it checks someone in (an unknown receipt code)
    resp = client.http.post(
        "/v1/site/check-ins",
        body='{"registration_id": "r_unknownunknownunknown"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    # Then the live one reaches the check-in (404, nobody by that code), the expired one gets 401
    assert resp.status_code == status
    assert resp.json_body["error"]["code"] == ("unauthorized" if status == 401 else "not_found")


def test_a_new_token_lives_the_days_asked_for(client: Any) -> None:
    # Given `make token DAYS=7` / Then the token expires 7 days from now, and works today
    token, record = staff.issue_token(Role.COUNTER, "Counter 3", days=7)
    assert record.expires_at is not None
    assert timedelta(days=7) - timedelta(minutes=1) < record.expires_at - datetime.now(UTC) <= timedelta(days=7)
    assert staff.authenticate(token) is not None
    # and the day after it expires the same token is refused
    assert staff.authenticate(token, now=record.expires_at + timedelta(days=1)) is None


def test_the_default_is_30_days(aws: dict[str, str]) -> None:
    _, record = staff.issue_token(Role.ORG, "Khon Kaen Textiles Co.")
    assert record.expires_at is not None and record.expires_at - record.created_at == timedelta(days=30)
