"""Admission: the check an app registration passes while the waiting room is on, the stop when a
registration finds no place, and the admin's figures and pace.

An admission is checked by its token's signature alone (no read): for this phone, not past its
window. A new pace counts from now (``serving`` goes on from where it is) and is written only if no
other change to the segments came between its read and its write.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import admission_key, verification_keys
from chalicelib.domain.errors import AdmissionRequired, Conflict
from chalicelib.domain.models import iso_utc
from chalicelib.domain.queue.pace import oldest_wait, with_rate
from chalicelib.domain.queue.standing import admission_valid
from chalicelib.domain.queue.views import AdminQueueView
from chalicelib.domain.verification import phone_hash
from chalicelib.services.waiting_room import line
from chalicelib.store.factory import stores

logger = Logger(child=True)


def require_admitted(phone: str, token: str | None) -> None:
    """While the waiting room is on, an app registration needs the admission of its phone, live.
    No read: the signature says it all. Raises AdmissionRequired."""
    if not line.enabled():
        return
    key = phone_hash(phone, verification_keys())
    if not admission_valid(token, key, math.floor(line.clock()), admission_key()):
        metrics.add("AdmissionRefused")
        raise AdmissionRequired()


def note_full() -> None:
    """A registration was refused for want of places: the line stops (once per container)."""
    if not line.enabled() or line.state(line.clock()).full:
        return
    line.set_full()


def admin_view() -> AdminQueueView:
    """The line's figures, from a fresh read of its state. Raises Overloaded."""
    now = line.clock()
    state = line.state(now, fresh=True)
    figures = line.figures(state, now)
    return AdminQueueView(
        **figures,
        joined=state.total if state.opened else state.pre_count,
        admitted=figures["serving"],
        oldest_wait_s=oldest_wait(state, now),
        sequenced_to=iso_utc(datetime.fromtimestamp(state.sequenced_to, UTC)) if state.opened else None,
    )


def set_rate(admit_per_minute: int) -> AdminQueueView:
    """The pace from PACE_CHANGE_DELAY_SECONDS from now on (``serving`` goes on from where it is
    then). Raises Conflict, Overloaded."""
    store = stores().queue
    for _ in range(5):
        now = line.clock()
        state = line.ensure(store.state(), now)
        # A full line stays stopped: the pace is kept for the record only.
        moving = state.opened and not state.full
        starts = now + line.PACE_CHANGE_DELAY_SECONDS
        segments = with_rate(state.segments, starts, admit_per_minute, state.total) if moving else []
        changes: dict[str, object] = {"rate": admit_per_minute, "segments_version": state.segments_version + 1}
        if moving:
            changes["segments"] = tuple(segments)
        if store.write_state(changes, {"segments_version": state.segments_version}):
            logger.info("admission rate changed", extra={"admit_per_minute": admit_per_minute})
            line.invalidate()
            return admin_view()
    raise Conflict("the line's state kept changing")
