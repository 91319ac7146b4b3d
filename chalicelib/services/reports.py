"""The daily report: a day's events by channel and basis, removals, doses and places left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.models import REGISTRIES, Basis, Channel
from chalicelib.domain.reports import DailyReport
from chalicelib.services import counters
from chalicelib.store.factory import stores


def daily_report(day: str) -> DailyReport:
    """The day's figures (Asia/Bangkok): events by channel and basis, removals, places left.

    Places left are read now for today; a past day has those reconciliation last kept on it
    (None if it kept none).
    """
    st = stores()
    of_day = counters.of_day(st.statistics.stats(), day)

    def by(event: str, dim: str, values: list[str]) -> dict[str, int]:
        return {v: of_day.get(f"{event}_{dim}_{v}", 0) for v in values}

    channels = [c.value for c in Channel]
    bases = [b.value for b in Basis]
    events = {}
    for event, name in (
        ("registered", "registrations"),
        ("confirmed", "confirmations"),
        ("promoted", "promotions"),
        ("cancelled", "cancellations"),
    ):
        per_channel = by(event, "channel", channels)
        events[name] = {
            "total": sum(per_channel.values()),
            "by_channel": per_channel,
            "by_basis": by(event, "basis", bases),
        }
    today = rules.today_in_bangkok().isoformat()
    places = places_left_now(datetime.now(UTC)) if day == today else st.ledger.places_snapshot(day)
    return DailyReport.model_validate(
        {
            "date": day,
            **events,
            "removals": {
                r: {s: of_day.get(f"removal_{r}_{s}", 0) for s in ("removed", "not_found", "failed")}
                for r in REGISTRIES
            },
            "places_left": places,
            "doses": counters.doses_of_day(
                of_day, [s.name for s in get_settings().schedule.sites], get_settings().doses
            ),
        }
    )


def places_left_now(now: datetime) -> dict[str, Any]:
    """The primary and reserve places left, as the campaign's counters say at ``now``."""
    settings = get_settings()
    counts = stores().quota.counts()
    return {
        "primary": max(0, settings.primary_capacity - counts.primary_used),
        "reserve": max(0, settings.reserve_capacity - counts.reserve_active),
        "as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
