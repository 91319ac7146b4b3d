"""The served stack's heap: each long-lived object is walked by one full collection, not by all of them.

The engine keeps every table as Python objects (moto's items and their attributes), millions of them at
the bench's size, and CPython's full collection walks every tracked object each time the heap grew by a
quarter. Under a full-size bench the engine's full collections grew from 0.1 s to 6.5 s (31 s in
all), each one stopping every AWS call of the stack, and the service's (every 6-10 s, growing to
1 s) took 36 s more: the campaign's slowest seconds were those collections (docs/benchmarks.md,
"Runs V0, V1 and W").

After each full collection, what survived it goes to the permanent generation (``gc.freeze``): the next
full collection walks only the objects that arrived since. Reference counting still frees any object as
before; only a reference cycle formed among objects that had already survived a full collection stays
(the engine's peak memory at 30,000 attempts: 709 MB against 690 MB without). For the local stack's
processes only: a Lambda container is not this heap.
"""

from __future__ import annotations

import gc
from typing import Any


def _frozen_after_full(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def install() -> None:
    """Freeze the survivors of every full collection of this process, starting with what is here now."""
    if _frozen_after_full not in gc.callbacks:
        gc.callbacks.append(_frozen_after_full)
    gc.collect()  # the modules and the engine's start, walked once


def uninstall() -> None:
    """Stop freezing (what is frozen stays so until ``gc.unfreeze``)."""
    if _frozen_after_full in gc.callbacks:
        gc.callbacks.remove(_frozen_after_full)
