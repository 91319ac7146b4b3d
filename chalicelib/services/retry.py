"""Compare-and-set, retried: the one retry policy of the services' conditional writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from chalicelib.domain.errors import Conflict

T = TypeVar("T")


class LostRace(Exception):
    """Raised by an attempt whose conditional write was refused: the item changed since it was read."""


def compare_and_set(attempt: Callable[[], T], tries: int, on_exhausted: Callable[[], T]) -> T:
    """Run ``attempt`` until it returns, at most ``tries`` times; then answer ``on_exhausted()``.

    An attempt reads, decides and writes on the condition that what it read is still so. When the
    write is refused it gives back what it took, reads again if it needs to, and raises LostRace;
    anything else it raises ends the run and reaches the caller unchanged.

    The policy: try again at once, a handful of times. A refused write lost only to another write
    that landed between this attempt's read and its own (a promotion, a cancel, a reclaim, a removal
    sweep, a check-in), and that write is done: the next attempt reads it and decides on it (it may
    now have nothing to do), so no backoff is needed and losing over and over means an item changing
    unusually often. Then ``on_exhausted`` answers: a request raises Conflict (``kept_changing``:
    429, the client tries again), a job returns and a later run takes it up.
    """
    for _ in range(tries):
        try:
            return attempt()
        except LostRace:
            continue
    return on_exhausted()


def kept_changing(what: str) -> Callable[[], NoReturn]:
    """The ``on_exhausted`` of a request: raise Conflict ("``what`` kept changing")."""

    def give_up() -> NoReturn:
        raise Conflict(f"{what} kept changing")

    return give_up
