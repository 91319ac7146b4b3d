"""Staff tokens expire; the local operator endpoint answers loopback names only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.api.auth import principal_of
from chalicelib.api.errors import Unauthorized
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.staff import DEFAULT_TOKEN_DAYS, Role, StaffToken, token_days
from local.loopback import is_loopback_host

NOW = datetime(2026, 7, 6, 8, 0, tzinfo=UTC)


def record(created_days_ago: float, expires_in_days: float | None, revoked: bool = False) -> StaffToken:
    return StaffToken(
        token_id="t_1",
        role=Role.COUNTER,
        label="Counter 3",
        created_at=NOW - timedelta(days=created_days_ago),
        expires_at=None if expires_in_days is None else NOW + timedelta(days=expires_in_days),
        revoked_at=NOW if revoked else None,
    )


@pytest.mark.parametrize(
    ("token", "live"),
    [
        (record(1, 29), True),
        (record(31, -1), False),  # expired yesterday
        (record(30, 0), False),  # expires this very moment
        (record(1, 29, revoked=True), False),
        (record(DEFAULT_TOKEN_DAYS - 1, None), True),  # issued before tokens expired: 30 days from creation
        (record(DEFAULT_TOKEN_DAYS + 1, None), False),
    ],
)
def test_a_token_is_live_until_it_expires_or_is_revoked(token: StaffToken, live: bool) -> None:
    assert token.live(NOW) is live


def context(expires_at: datetime | str | None) -> dict[str, object]:
    authorizer: dict[str, object] = {"token_id": "t_1", "role": "admin", "label": "IT admin"}
    if expires_at is not None:
        authorizer["expires_at"] = expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at
    return {"authorizer": authorizer}


def test_the_view_refuses_a_principal_whose_token_has_expired_since_the_authorizer() -> None:
    # Given an authorizer answer for a token that expired a second ago (a cached answer, a slow request)
    ctx = context(NOW - timedelta(seconds=1))
    # When the view reads its caller / Then 401, as for a revoked token
    with pytest.raises(Unauthorized):
        principal_of(ctx, now=NOW)
    # and the same answer before the expiry is the caller
    assert principal_of(context(NOW + timedelta(seconds=1)), now=NOW).role is Role.ADMIN


@pytest.mark.parametrize("expires_at", [None, "not a date", "2026-07-06"])
def test_the_view_refuses_an_authorizer_answer_without_a_readable_expiry(expires_at: str | None) -> None:
    with pytest.raises(Unauthorized):
        principal_of(context(expires_at), now=NOW)


@pytest.mark.parametrize("days", [0, -1, 367, True, "30", 1.5, None])
def test_token_lifetimes_outside_1_to_366_days_are_refused(days: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        token_days(days)
    assert caught.value.fields == ["days"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("[::1]:8000", True),
        ("[::1]", True),
        ("127.0.0.1", True),
        ("attacker.example", False),
        ("attacker.example:8000", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:8000", False),
        ("[::1]x", False),
        ("localhost:80x", False),
        ("::1", False),
        ("", False),
        (None, False),
    ],
)
def test_only_loopback_host_names_reach_the_operator_endpoints(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
