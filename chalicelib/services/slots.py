"""Places on days: booking every dose not yet booked, and giving places back.

Places stay exact without transactions. A place is taken with a conditional ``ADD used :1 IF used
< capacity`` on ``slot#<day>#<site>`` (dose 1 and later doses on the same counter), never by reading
the count first. A registration's appointments change only by a compare-and-set on its version
(``appt_rev``) that also requires the status the change is for (confirmed; cancelled to drop the
bookings of a cancellation). Places are taken before that write and given back if it loses a race;
a booking's place is given back only after the write that dropped the booking, which succeeds
once, so no race between allocation, check-in, closing, rebooking, cancellation or promotion
counts a place twice or frees it twice. A crash between the two leaves a place counted that nobody
holds: never an oversold day, and reconciliation reports it.
"""

from __future__ import annotations

from datetime import date

from chalicelib.config import get_settings
from chalicelib.domain import doses
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.store.factory import stores


def site_names() -> list[str]:
    return [s.name for s in get_settings().schedule.sites]


def site_index(name: str) -> int | None:
    names = site_names()
    return names.index(name) if name in names else None


def book(
    visits: list[Visit],
    start: date,
    preferred: str | None,
    full: set[tuple[str, int]],
    taken: list[tuple[str, int]],
) -> list[Visit] | None:
    """The appointments with every dose neither done nor booked booked, in dose order: the first of
    them on the first open day with room from ``start`` (the ``preferred`` site first within a day),
    each later one at the site of the dose before it, on the first open day with room on or after
    that dose's day plus the interval. Places taken are appended to ``taken`` (the caller gives them
    back if its write fails). None when the schedule has no room left for one of them.
    """
    settings = get_settings()
    schedule = settings.schedule
    out = list(visits)
    for dose in doses.missing_doses(out, settings.doses):
        before = [v for v in out if v.dose == dose - 1 and v.status is not VisitStatus.MISSED]
        order = doses.site_order(schedule, before[-1].site if before else preferred)
        if before:
            order = order[:1]  # a later dose at the site of the dose before it
        earliest = doses.earliest_day(out, dose, settings.dose_interval_days, start)
        place = _take_first(earliest, order, full, taken)
        if place is None:
            return None
        out.append(Visit(dose=dose, date=place[0], site=schedule.sites[place[1]].name, status=VisitStatus.BOOKED))
    return out


def _take_first(
    start: date, order: list[int], full: set[tuple[str, int]], taken: list[tuple[str, int]]
) -> tuple[date, int] | None:
    schedule = get_settings().schedule
    st = stores()
    for day, site in doses.candidates(schedule, start, order):
        iso = day.isoformat()
        if (iso, site) in full:
            continue
        if st.slots.take_slot(iso, site, schedule.sites[site].capacity):
            taken.append((iso, site))
            return day, site
        full.add((iso, site))
    return None


def give_back(places: list[tuple[str, int]]) -> None:
    for day, site in places:
        stores().slots.free_slot(day, site)


def free_visits(visits: list[Visit]) -> None:
    """Give back the places of bookings that a successful write has just dropped."""
    give_back([(v.date.isoformat(), i) for v in visits if (i := site_index(v.site)) is not None])
