"""The audit trail: its pages and their cursors, and how much refused calls may add to it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.staff import Principal, Role, audit_cursor, audit_position
from chalicelib.services import staff

KEY = b"k" * 32
DAY = "2026-07-06"
POSITION = "2026-07-06T01:02:03.456789+00:00#0a1b2c3d"


def test_a_cursor_stands_for_its_position_on_its_day_only() -> None:
    # Given a cursor / Then it gives its position back, on its own day and under its own key only
    cursor = audit_cursor(KEY, DAY, POSITION)
    assert audit_position(KEY, DAY, cursor) == POSITION
    text, mac = cursor.split(".")
    other = audit_cursor(KEY, DAY, POSITION.replace("01:02", "01:03")).split(".")[0]
    for bad in (
        f"{other}.{mac}",
        text,
        f"{text}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}",
        "%%%.x",
        f"{text}.ก{mac[1:]}",
        "abcde.x",
    ):
        with pytest.raises(ValidationFailed):
            audit_position(KEY, DAY, bad)
    with pytest.raises(ValidationFailed):
        audit_position(KEY, "2026-07-07", cursor)
    with pytest.raises(ValidationFailed):
        audit_position(b"x" * 32, DAY, cursor)


def test_a_token_s_refusals_past_ten_a_minute_are_one_counting_entry(campaign: Any, monkeypatch: Any) -> None:
    # Given a counter token refused 50 times within one minute, and allowed once
    campaign()
    caller = Principal(token_id="t_1", role=Role.COUNTER, label="desk", expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    at = datetime(2026, 7, 6, 3, 4, 5, tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return at

    monkeypatch.setattr(staff, "datetime", Clock)
    for _ in range(50):
        staff.audit(caller, "admin.summary", 403, None)
    staff.audit(caller, "counter.register", 201, "registration_id=r_x")
    # When the day's trail is read
    log = staff.audit_log(DAY, None, 1000)
    # Then ten refusals are entries, the forty others one entry after the minute's, and the allowed
    # call its own
    assert Counter((e.action, e.status, e.suppressed) for e in log.entries) == {
        ("admin.summary", 403, 0): 10,
        ("counter.register", 201, 0): 1,
        ("audit.suppressed", 403, 40): 1,
    }
    assert log.entries[-1].action == "audit.suppressed" and log.next_cursor is None


def test_pages_follow_one_another_to_the_end(campaign: Any) -> None:
    # Given 25 entries
    campaign()
    caller = Principal(token_id="t_2", role=Role.ADMIN, label="admin", expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    for _ in range(25):
        staff.audit(caller, "admin.summary", 200, None)
    day = staff.rules.today_in_bangkok().isoformat()
    # When read 10 a page
    pages = [staff.audit_log(day, None, 10)]
    while pages[-1].next_cursor:
        pages.append(staff.audit_log(day, pages[-1].next_cursor, 10))
    # Then 10, 10, 5, and the last says it is the last
    assert [len(p.entries) for p in pages] == [10, 10, 5]
