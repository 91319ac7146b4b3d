"""One look at a person and, when they are due, the campaign's gate and channel states, and the
phone of an app registration.

A registration asks who the person is before it takes any place (a repeat costs one read). Once the
primary list is full, a container also needs, every few seconds, the gate (is a place parked, is the
reserve full?) and the channel states; an app registration needs its phone's item (is the phone at
a limit? then the person is not looked at). Read in the same BatchGetItem as the person's item, they
cost a refusal nothing more than that one request.
"""

from __future__ import annotations

from chalicelib.store.channels import CHANNELS, states_of
from chalicelib.store.gate import GATE
from chalicelib.store.phones import phone_item_key
from chalicelib.store.registrations.codec import RegistrationCodec
from chalicelib.store.registrations.keys import home
from chalicelib.store.table import Table, get_together
from chalicelib.store.types import Glance, PhoneState


class GlanceStore:
    def __init__(self, registrations: Table, campaign: Table, codec: RegistrationCodec) -> None:
        self._regs = registrations
        self._campaign = campaign
        self._codec = codec

    def look(self, pointer: bytes, gate: bool, channels: bool, phone: str | None = None) -> Glance:
        """The person's current registration, with the gate, the channel states and the item of the
        phone (by its keyed hash) if asked: one request. Raises Overloaded."""
        wanted: list[tuple[Table, tuple[str, ...]]] = [(self._regs, (home(pointer),))]
        if gate:
            wanted.append((self._campaign, (GATE,)))
        if channels:
            wanted.append((self._campaign, (CHANNELS,)))
        if phone is not None:
            wanted.append((self._campaign, (phone_item_key(phone),)))
        items = iter(get_together(wanted))
        person = self._codec.current_of(next(items))
        gate_item = next(items) if gate else None
        states = states_of(next(items)) if channels else None
        phone_state = PhoneState.of(next(items)) if phone is not None else None
        return Glance(person, gate_item, states, phone_state)
