"""A registration as its item: the fields stored, the index keys it carries, and back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.models import REGISTRIES, Channel, Registration, Status
from chalicelib.store.registrations.keys import shard_of
from chalicelib.store.types import Item

_OPEN_REMOVAL = ("pending", "failed")

_ITEM_FIELDS = (
    "registration_id",
    "status",
    "channel",
    "national_id",
    "first_name",
    "last_name",
    "phone",
    "basis",
    "detail",
    "ticket",
    "label",
    "promoted_by",
    "release_target",
    "held",
    "sms_sent_for",
    "rank_at_start",
    "cancel_reason",
)


def current_of(item: Item) -> tuple[Registration, str | None] | None:
    """A person's item as ``RegistrationStore.current`` answers it."""
    return (from_item(item), item.get("idem")) if item else None


def cancellation(reg: Registration, now: datetime) -> dict[str, Any]:
    """What a cancellation of ``reg`` writes besides its status (``cancel`` and ``cancel_no_show``
    alike): when, the place it held (pending release, in the release index), and the steps left to
    do, each once: its counters, and an app registration's share of its phone
    (``PHONE_REGISTRATION_LIMIT``)."""
    return {
        "cancelled_at": now.isoformat(),
        "held": "primary" if reg.status is Status.CONFIRMED else "reserve",
        "release_pending": now.isoformat(),
        "release_shard": shard_of(reg.registration_id),
        "todo": {"counts", "phone"} if reg.channel is Channel.APP else {"counts"},
    }


def to_item(reg: Registration) -> dict[str, Any]:
    data = reg.model_dump(mode="json", include=set(_ITEM_FIELDS))
    data["registered_at"] = reg.registered_at.isoformat()
    data["birth_date"] = reg.birth_date.isoformat()
    for registry, state in reg.removals.items():
        data[f"rm_{registry}"] = state
    if any(s in _OPEN_REMOVAL for s in reg.removals.values()):
        data["removal_due"] = data["registered_at"]
        data["removal_shard"] = shard_of(reg.registration_id)
    if reg.status is Status.CONFIRMED and reg.appointment is None:
        data["appt_pending"] = data["registered_at"]
        data["appt_shard"] = shard_of(reg.registration_id)
    if reg.appointment is not None:
        data["appt_date"] = reg.appointment.date.isoformat()
        data["appt_site"] = reg.appointment.site
    if reg.counted:
        data["counted"] = True
    if reg.visits:
        data["visits"] = [visit_item(v) for v in reg.visits]
        data["appt_rev"] = reg.appt_rev
    return data


def visit_item(visit: Visit) -> dict[str, Any]:
    return visit.model_dump(mode="json", exclude_none=True)


def from_item(item: dict[str, Any]) -> Registration:
    item = dict(item)
    item["registration_id"] = item.pop("code", item.get("registration_id"))
    item["release_pending"] = "release_pending" in item
    item["version"] = item.pop("ver", 0)
    item["removals"] = {r: item.pop(f"rm_{r}") for r in REGISTRIES if f"rm_{r}" in item}
    item["tries"] = {r: item.pop(f"tries_{r}") for r in REGISTRIES if f"tries_{r}" in item}
    if "appt_date" in item:
        item["appointment"] = {"date": item.pop("appt_date"), "site": item.pop("appt_site")}
        if "visits" not in item:  # written before doses were kept: its one appointment is dose 1
            item["visits"] = [{**item["appointment"], "dose": 1, "status": VisitStatus.BOOKED.value}]
    if isinstance(item.get("registered_at"), str):
        item["registered_at"] = datetime.fromisoformat(item["registered_at"]).astimezone(UTC)
    if isinstance(item.get("todo"), set):
        item["todo"] = sorted(item["todo"])
    return Registration.model_validate(item)
