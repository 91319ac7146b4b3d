"""A phone's share: what an app registration takes of its phone before it is written.

One conditional write on the phone's item (``store.phones``) checks both limits
(``PHONE_REGISTRATION_LIMIT`` active registrations, ``PHONE_LIFETIME_LIMIT`` different people) and
counts the person among the phone's people, so a phone at a limit is refused before the person is
looked at and before any place or ticket is taken. A cancellation gives its share back
(``services.cancellations``); a registration that is not stored gives back what it took here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from chalicelib import metrics
from chalicelib.config import get_settings, verification_keys
from chalicelib.domain import verification
from chalicelib.domain.errors import Overloaded, PhoneLimitReached
from chalicelib.domain.models import Channel
from chalicelib.services.retry import LostRace, compare_and_set
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores
from chalicelib.store.types import Share

ADOPT_ATTEMPTS = 3  # of the compare-and-set that takes over a person's share (services.retry)


@dataclass(frozen=True)
class Hold:
    """The phone's share an app registration goes ahead with (``Share``: taken, or held by the
    person through an earlier registration of theirs on this phone)."""

    phone: str
    share: Share


def phone_key(phone: str) -> str:
    """The phone's key in the stores (a keyed hash: the number itself is never a key)."""
    return verification.phone_hash(phone, verification_keys())


def limits() -> tuple[int, int]:
    settings = get_settings()
    return settings.phone_registration_limit, settings.phone_lifetime_limit


def take(phone: str | None, code: str, channel: Channel, undo_place: Callable[[], None] | None = None) -> Hold | None:
    """The share of ``phone`` (its key) for the registration ``code``, taken before it is written:
    a phone at a limit is refused here, and ``undo_place`` puts back a place taken already. A person
    who holds a share of this phone through an earlier registration takes none: their registration
    answers them, or (it was cancelled, or never written) the new one takes that share over once
    stored (``adopt``).
    None for the other channels (``phone`` is None). Raises PhoneLimitReached, Overloaded.
    """
    if phone is None:
        return None
    try:
        share = stores().phones.take(phone, code, *limits())
    except Overloaded as exc:
        if exc.maybe_applied:  # if it landed, the share is this code's: back (its person stays counted)
            best_effort(lambda: stores().phones.give_back(phone, code), "phone share")
        if undo_place is not None:
            undo_place()
        raise
    if share.refused:
        if undo_place is not None:
            undo_place()
        limit_reached(channel)
    return Hold(phone, share)


def limit_reached(channel: Channel) -> NoReturn:
    """Raises PhoneLimitReached (and counts it for the channel)."""
    metrics.add("PhoneLimitReached", channel=channel.value)
    raise PhoneLimitReached()


def give_back(hold: Hold | None, code: str) -> None:
    """The share taken for a registration that was not stored, back; its person leaves the phone's
    people too if this take added them. If the write fails, the phone keeps a share too many (the
    error is against the phone, never past its limits)."""
    if hold is not None and hold.share.taken:
        forget = hold.share.new_person
        best_effort(lambda: stores().phones.give_back(hold.phone, code, forget_person=forget), "phone share")


def adopt(hold: Hold, code: str) -> bool:
    """The person held a share of this phone through an earlier registration (cancelled, its share
    still owed; or a request that died before its write): the stored registration ``code`` takes it
    over, so the counts stay as they are. If that one gave it back meanwhile, a share is taken as
    usual. True once ``code`` holds a share; False if the phone is at a limit (or the share kept
    changing hands): the caller undoes the registration.
    Raises Overloaded (``maybe_applied``: a write may have landed)."""
    phones = stores().phones
    held_by = hold.share.held_by

    def attempt() -> bool:
        nonlocal held_by
        if held_by is not None and phones.adopt(hold.phone, code, held_by):
            return True
        share = phones.take(hold.phone, code, *limits())
        if share.refused:
            return False
        if not share.taken:
            held_by = share.held_by  # held through yet another registration of the person's: that one
            raise LostRace()
        return True

    return compare_and_set(attempt, ADOPT_ATTEMPTS, on_exhausted=lambda: False)
