"""What each event adds to the campaign's counters (all-time and per day), in one write.

The admin summary and the daily report read these sums; nothing scans the registrations for them.
Reconciliation recounts them from the table and corrects any drift.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import rules
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.store.factory import stores


def _day(moment: datetime | None = None) -> str:
    return "d" + rules.today_in_bangkok(moment).isoformat()


def _per_day(event: str, reg: Registration, moment: datetime | None = None) -> dict[str, int]:
    day = _day(moment)
    return {f"{day}_{event}_channel_{reg.channel.value}": 1, f"{day}_{event}_basis_{reg.basis.value}": 1}


def _removals_pending() -> dict[str, int]:
    return {f"removal_{r}_pending": 1 for r in REGISTRIES}


def registered_deltas(reg: Registration) -> dict[str, int]:
    """What a new registration adds (on the day it was made): a reserve entry adds it in the gate's
    write, a direct confirmation is added by the removal sweep (with its removals' outcomes)."""
    deltas = {
        f"channel_{reg.channel.value}": 1,
        f"status_{reg.status.value}": 1,
        **_per_day("registered", reg, reg.registered_at),
    }
    if reg.status is Status.CONFIRMED:
        deltas |= _per_day("confirmed", reg, reg.registered_at)
    return deltas


def add(deltas: dict[str, int]) -> None:
    """Add a batch of deltas in one write (nothing when they cancel out)."""
    deltas = {k: v for k, v in deltas.items() if v}
    if deltas:
        stores().statistics.count(deltas)


def removal_deltas(registry: str, was: str | None, now: str) -> dict[str, int]:
    """A removal state change (``was`` None: not counted before)."""
    out = {f"removal_{registry}_{now}": 1}
    if was is not None:
        out[f"removal_{registry}_{was}"] = out.get(f"removal_{registry}_{was}", 0) - 1
    if now != "pending" and now != was:
        out[f"{_day()}_removal_{registry}_{now}"] = 1
    return out


def cancelled(was: Status, reg: Registration) -> None:
    stores().statistics.count({f"status_{was.value}": -1, "status_cancelled": 1, **_per_day("cancelled", reg)})


def promoted(reg: Registration) -> None:
    stores().statistics.count(
        {
            "status_reserve": -1,
            "status_confirmed": 1,
            **_per_day("promoted", reg),
            **_per_day("confirmed", reg),
            **_removals_pending(),
        }
    )


def removal(registry: str, was: str, now: str) -> None:
    stores().statistics.count(
        {f"removal_{registry}_{was}": -1, f"removal_{registry}_{now}": 1, f"{_day()}_removal_{registry}_{now}": 1}
    )


def of_day(stats: dict[str, int], day: str) -> dict[str, int]:
    """The per-day counters of ``day`` (YYYY-MM-DD), without their prefix."""
    prefix = f"d{day}_"
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}


def dose_events(day: str, site: int, *events: str) -> None:
    """Count dose events of ``day`` at site ``site``: ``given_<dose>``, ``missed``, ``rebooked``, ``noshow``.

    Missed, rebooked and no-show count on the day that was missed, so a day's report reads as one story.
    """
    stores().statistics.count({f"d{day}_dose_{event}_site_{site}": 1 for event in events})


def doses_of_day(of_day: dict[str, int], sites: list[str], doses: int) -> dict[str, object]:
    """The daily report's ``doses``: totals, and the same per site (by name)."""

    def figures(site: int | None) -> dict[str, object]:
        def total(event: str) -> int:
            return sum(
                v
                for k, v in of_day.items()
                if k.startswith(f"dose_{event}_site_") and (site is None or k == f"dose_{event}_site_{site}")
            )

        return {
            "given": {str(d): total(f"given_{d}") for d in range(1, doses + 1)},
            "missed": total("missed"),
            "rebooked": total("rebooked"),
            "no_show_cancelled": total("noshow"),
        }

    return {**figures(None), "by_site": {name: figures(i) for i, name in enumerate(sites)}}
