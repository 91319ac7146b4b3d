"""Retention (contract v1.2): ``RETENTION_DAYS`` after the campaign's last vaccination day, the
personal fields of every registration are erased, vaccinated or not; the anonymous counts stay.

A daily schedule starts it. Before the first day anything can be due it reads nothing at all; from
then on it fans out through the reconcile queue as reconciliation does: one job per segment of a
parallel scan, each continuing itself in a new message when its Lambda time runs low. Each erasure
is the registration's own conditional write (``Registrations.erase``), judged on the registration as
read (``domain.retention.due``): a run again, or two at once, erases nobody twice and skips the erased.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import retention, rules
from chalicelib.domain.errors import Conflict
from chalicelib.domain.jobs import RetentionSegment
from chalicelib.store.factory import stores

logger = Logger(child=True)

SEGMENTS = 8
# Leave this much of the Lambda's time to hand the rest of a segment to a new message.
RESERVE_MS = 60_000


def last_day() -> date:
    """The campaign's last vaccination day (``VACCINATION_LAST_DAY``, else the schedule's estimate)."""
    s = get_settings()
    places = s.primary_capacity + s.reserve_capacity
    return retention.campaign_last_day(s.schedule, places, s.doses, s.dose_interval_days, s.vaccination_last_day)


def start(today: date | None = None) -> int:
    """The daily job: queue one scan segment per ``SEGMENTS`` once anything can be due (before, no
    read at all). Returns how many segments it queued."""
    today = today or rules.today_in_bangkok()
    if retention.nothing_due(today, last_day(), get_settings().retention_days):
        return 0
    st = stores()
    for seg in range(SEGMENTS):
        st.reconcile_jobs.send(RetentionSegment(segment=seg).model_dump(mode="json"))
    logger.info("retention started", extra={"segments": SEGMENTS})
    return SEGMENTS


def segment(
    seg: int,
    cursor: dict[str, Any] | None,
    remaining_ms: Callable[[], int] | None,
    today: date | None = None,
) -> int:
    """Erase every registration of one scan segment that is past its day; hand the rest on to a new
    message when time runs low. Returns how many it erased."""
    st = stores()
    settings = get_settings()
    today = today or rules.today_in_bangkok()
    end = last_day()
    erased = 0
    while True:
        page, cursor = st.registrations.scan_segment(seg, SEGMENTS, cursor)
        for reg in page:
            if not retention.due(reg, today, end, settings.retention_days):
                continue
            try:
                st.registrations.erase(reg, datetime.now(UTC))
                erased += 1
            except Conflict:
                pass  # changed since read: the next day's run judges it again
        if cursor is None:
            break
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:  # checked a page (100) at a time
            st.reconcile_jobs.send(RetentionSegment(segment=seg, cursor=cursor).model_dump(mode="json"))
            break
    if erased:
        metrics.add("Erased", erased, by="retention")
    logger.info("retention segment", extra={"segment": seg, "erased": erased, "more": cursor is not None})
    return erased
