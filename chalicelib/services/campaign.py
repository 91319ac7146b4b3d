"""The campaign as the public sees it: places left on each list, and which channels are open.

A closed channel must be seen "within 5 seconds everywhere" without a read per request: each
container keeps the channel states for ``CHANNEL_CACHE_SECONDS``, then reads them again (a
registration reads them with the person's item, ``store/glance.py``, and keeps what it read).
"""

from __future__ import annotations

import time

from chalicelib.config import get_settings
from chalicelib.domain.models import CampaignView, ChannelsView, Places
from chalicelib.store.factory import stores

CHANNEL_CACHE_SECONDS = 3.0
_channel_cache: dict[str, tuple[float, dict[str, bool]]] = {}


def channel_states(fresh: bool = False) -> dict[str, bool]:
    """Which channels are open (``Channel`` value -> open): the cached states, else (or if
    ``fresh``) read and kept."""
    cached = None if fresh else cached_channel_states()
    if cached is not None:
        return cached
    states = stores().channels.channels()
    keep_channel_states(states)
    return states


def cached_channel_states() -> dict[str, bool] | None:
    """The cached channel states, or None when they are due to be read again (no request)."""
    cached = _channel_cache.get("states")
    if cached and time.monotonic() - cached[0] < CHANNEL_CACHE_SECONDS:
        return cached[1]
    return None


def keep_channel_states(states: dict[str, bool]) -> None:
    """Keep channel states just read (by ``channel_states``, or with a person's item)."""
    _channel_cache["states"] = (time.monotonic(), states)


def forget_channel_states() -> None:
    _channel_cache.clear()


def view() -> CampaignView:
    """The campaign's name and minimum age, the places left on each list, and the channel states."""
    settings = get_settings()
    counts = stores().quota.counts()
    states = channel_states()
    return CampaignView(
        name=settings.campaign_name,
        min_age=settings.min_age,
        primary=Places(
            capacity=settings.primary_capacity,
            remaining=max(0, settings.primary_capacity - counts.primary_used),
        ),
        reserve=Places(
            capacity=settings.reserve_capacity,
            remaining=max(0, settings.reserve_capacity - counts.reserve_active),
        ),
        channels=ChannelsView(**{k: "open" if v else "closed" for k, v in states.items()}),
    )
