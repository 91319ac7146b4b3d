"""The per-container caches, forgotten in one call: a test or the local stack that starts a new
backend (or changes the environment) calls ``reset_caches()`` instead of reaching into modules."""

from __future__ import annotations


def reset_caches() -> None:
    """Forget settings, AWS clients, stores, registry and SMS clients, and the cached channel states."""
    from chalicelib.services import appointments, registrations
    from chalicelib.store import factory

    factory.reset()
    registrations._channel_cache.clear()
    appointments._sms_client.cache_clear()
