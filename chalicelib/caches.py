"""The per-container caches, forgotten in one call: a test or the local stack that starts a new
backend (or changes the environment) calls ``reset_caches()`` instead of reaching into modules."""

from __future__ import annotations

import sys


def reset_caches() -> None:
    """Forget settings, AWS clients, stores (with the places in hand and parked that a campaign
    store keeps), registry and SMS clients, the cached channel states, queue state and committed queue
    buckets, the Idempotency-Key answers this container remembers, and the receipt codes waiting to
    be handed to a removal sweep."""
    from chalicelib.notify import factory as notify
    from chalicelib.registries import factory as registries
    from chalicelib.services import campaign, removals
    from chalicelib.services.waiting_room import line
    from chalicelib.store import factory

    factory.reset()
    registries.reset()
    notify.reset()
    # A module never imported has nothing to forget (and the unit tests run without chalice).
    if idempotency := sys.modules.get("chalicelib.api.idempotency"):
        idempotency.forget_all()
    removals.forget()
    campaign.forget_channel_states()
    line.forget()
