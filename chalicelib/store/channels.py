"""Which registration channels are open: the campaign table's ``channels`` item (absent: open)."""

from __future__ import annotations

from chalicelib.store.table import Table
from chalicelib.store.types import Item

CHANNELS = "channels"


class ChannelStore:
    def __init__(self, table: Table) -> None:
        self._t = table

    def channels(self) -> dict[str, bool]:
        return states_of(self._t.get(CHANNELS))

    def set_channel(self, channel: str, is_open: bool) -> None:
        self._t.update((CHANNELS,), "SET #c = :open", None, {":open": is_open}, names={"#c": channel})


def states_of(item: Item) -> dict[str, bool]:
    """The ``channels`` item as ``ChannelStore.channels`` answers it."""
    return {name: bool(item.get(name, True)) for name in ("app", "counter", "org")}
