"""The vaccination schedule: from the first day, each open day offers each site's daily capacity.

Slots are filled in order: day by day, and within a day site by site. The i-th slot of the
schedule (0-based) is therefore a pure function of the configuration, which is how an expected day
is estimated from a position in the queue without counting rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

MAX_DAYS = 3660  # a schedule that has not placed everyone in ten years is a mistake


@dataclass(frozen=True)
class Site:
    name: str
    capacity: int


@dataclass(frozen=True)
class Schedule:
    first_day: date
    sites: tuple[Site, ...]
    closed_days: frozenset[date]

    def first_open_from(self, today: date) -> date:
        """The day appointments start from: the configured first day, or today once it has passed."""
        return max(self.first_day, today)

    @property
    def daily_capacity(self) -> int:
        return sum(s.capacity for s in self.sites)

    def open_days(self, start: date | None = None) -> Iterator[date]:
        day = max(self.first_day, start or self.first_day)
        for _ in range(MAX_DAYS):
            if day not in self.closed_days:
                yield day
            day += timedelta(days=1)

    def slot_day(self, index: int, start: date | None = None) -> date:
        """The day of the ``index``-th slot (0-based) counting from ``start``."""
        per_day = self.daily_capacity
        for n, day in enumerate(self.open_days(start)):
            if n == index // per_day:
                return day
        raise ValueError("beyond the schedule")


def parse_schedule(first_day: str, sites: str, closed_days: str, today: date) -> Schedule:
    """The schedule from its settings. Raises ValueError with a message an operator can act on.

    A first day in the past is not an error: the campaign runs for weeks after it, and a function
    started then must keep serving (appointments are simply given from today on).
    """
    try:
        first = date.fromisoformat(first_day) if first_day else today + timedelta(days=1)
    except ValueError:
        raise ValueError(f"VACCINATION_FIRST_DAY must be YYYY-MM-DD, got {first_day!r}") from None
    try:
        raw_sites = json.loads(sites)
    except ValueError:
        raise ValueError('VACCINATION_SITES must be JSON: [{"name": "...", "capacity": 1500}, ...]') from None
    if not isinstance(raw_sites, list) or not raw_sites:
        raise ValueError("VACCINATION_SITES must list at least one site")
    parsed = []
    for i, site in enumerate(raw_sites):
        name = site.get("name") if isinstance(site, dict) else None
        capacity = site.get("capacity") if isinstance(site, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"VACCINATION_SITES[{i}] needs a name")
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity <= 0:
            raise ValueError(f"VACCINATION_SITES[{i}] ({name}) needs a daily capacity above 0")
        parsed.append(Site(name.strip(), capacity))
    if len({s.name for s in parsed}) != len(parsed):
        raise ValueError("VACCINATION_SITES has two sites with one name")
    closed: set[date] = set()
    for part in filter(None, (p.strip() for p in closed_days.split(","))):
        try:
            closed.add(date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"VACCINATION_CLOSED_DAYS has {part!r}, not a YYYY-MM-DD date") from None
    return Schedule(first, tuple(parsed), frozenset(closed))


DEFAULT_SITES = json.dumps(
    [
        {"name": "ศาลาว่าการเทศบาลนครขอนแก่น (City Hall)", "capacity": 1500},
        {"name": "สนามกีฬาเทศบาลนครขอนแก่น (Municipal Stadium)", "capacity": 1500},
    ],
    ensure_ascii=False,
)
