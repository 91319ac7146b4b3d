"""A registration as its item: the fields stored (the personal ones sealed, ``store/fields.py``),
the index keys it carries, and back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.models import REGISTRIES, Channel, Registration, Status
from chalicelib.store.fields import Fields
from chalicelib.store.registrations.keys import key_of, shard_of
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
    "consent",
)
# The attributes that hold the person's own data: each is encrypted one by one in every item (a lookup
# never needs them: it goes by the person's keyed hash), and an erasure removes them all
# (``Erasure.erase``); the keyed hash the item is stored under stays.
PERSONAL_FIELDS = ("national_id", "first_name", "last_name", "birth_date", "phone", "detail")
SEALED = PERSONAL_FIELDS


def owner_of(item: Item) -> str:
    """What a registration's sealed fields are bound to: the person's key, wherever the item is
    kept (under the person, or superseded under its code), whatever code a reclaim gave it."""
    code = str(item.get("code") or item["registration_id"])
    return key_of(code) or code


class RegistrationCodec:
    """Registrations as items and back, their personal fields sealed with ``fields``."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields

    def item(self, reg: Registration, owner: str) -> dict[str, Any]:
        """``reg`` as its item, its personal fields sealed for ``owner`` (the person's key).
        Raises Overloaded (no data key: nothing is written)."""
        data = to_item(reg)
        return data | self.sealed(owner, {name: data[name] for name in SEALED})

    def sealed(self, owner: str, values: dict[str, Any]) -> dict[str, Any]:
        """Personal fields as stored. Raises Overloaded."""
        return self.fields.seal(owner, values)

    def opened(self, item: Item) -> Item:
        """The item with its personal fields in clear (any stored before encryption as they are)."""
        return self.fields.open(owner_of(item), item, SEALED)

    def registration(self, item: Item) -> Registration:
        """The registration an item holds. Raises Overloaded (a data key could not be had)."""
        return from_item(self.opened(item))

    def current_of(self, item: Item) -> tuple[Registration, str | None] | None:
        """A person's item as ``RegistrationStore.current`` answers it."""
        return (self.registration(item), item.get("idem")) if item else None


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
    if reg.birth_date is not None:
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
