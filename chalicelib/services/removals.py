"""Removal of confirmed people from Mor Phrom and Khon Kaen Phrom, one job per registry.

The registration write itself marks each removal ``pending`` (an outbox): the jobs are queued right
after, and a sweep re-queues any that a crash lost. A job is idempotent (a finished removal is not
repeated) and records what the registry answered: ``removed``, ``not_found``, or ``failed`` once the
queue's last delivery attempt fails (the message then goes to the dead-letter queue).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import REGISTRIES, Registration, Status
from chalicelib.registries.client import RegistryUnavailable
from chalicelib.registries.factory import client
from chalicelib.services import counters
from chalicelib.store.factory import stores

logger = Logger(child=True)

# The removal queue's maxReceiveCount (infra/template.yaml): the last delivery records "failed".
MAX_RECEIVES = 5
# A pending removal older than this lost its message (5 deliveries x 180 s visibility have passed).
SWEEP_AFTER = timedelta(minutes=16)


def queue(reg: Registration, states: tuple[str, ...] = ("pending",)) -> int:
    """Queue a job per registry whose removal is in ``states``. A failed send is left to the sweep."""
    jobs = [
        {"kind": "remove", "registration_id": reg.registration_id, "registry": registry}
        for registry in REGISTRIES
        if reg.removals.get(registry) in states
    ]
    try:
        stores().removal_jobs.send_many(jobs)
    except Overloaded:
        logger.warning("removal jobs not queued; the sweep will", extra={"registration_id": reg.registration_id})
        return 0
    return len(jobs)


def process(registration_id: str, registry: str, receive_count: int) -> None:
    """Remove one person from one registry. Raises RegistryUnavailable to be retried by the queue."""
    st = stores()
    reg = st.registrations.get(registration_id)
    if reg is None or registry not in REGISTRIES:
        return
    state = reg.removals.get(registry)
    if state not in ("pending", "failed") or reg.status is Status.RESERVE:
        return  # done already, or never asked for (the reserve is not removed)
    try:
        answer = client(registry).remove(reg.national_id)
    except RegistryUnavailable:
        if receive_count >= MAX_RECEIVES and state == "pending":
            if st.registrations.set_removal(registration_id, registry, "failed", ("pending",)):
                counters.removal(registry, "pending", "failed")
            metrics.add("RemovalFailed", registry=registry)
            logger.error("removal failed for good", extra={"registration_id": registration_id, "registry": registry})
        else:
            metrics.add("RemovalRetried", registry=registry)
        raise
    if st.registrations.set_removal(registration_id, registry, answer, (state,)):
        counters.removal(registry, state, answer)
        metrics.add("RemovalRemoved" if answer == "removed" else "RemovalNotFound", registry=registry)


def sweep(now: datetime | None = None) -> int:
    """Re-queue removals still pending long after their jobs should have finished."""
    st = stores()
    now = now or datetime.now(UTC)
    requeued = 0
    for rid in st.registrations.open_removals(now - SWEEP_AFTER):
        reg = st.registrations.get(rid)
        if reg is not None:
            requeued += queue(reg)
    return requeued


def redrive(now: datetime | None = None) -> int:
    """Reconciliation: queue again every removal that is failed, or pending for too long."""
    st = stores()
    now = now or datetime.now(UTC)
    requeued = 0
    for rid in st.registrations.open_removals(now):
        reg = st.registrations.get(rid)
        if reg is None:
            continue
        due = any(s == "failed" for s in reg.removals.values()) or reg.registered_at < now - SWEEP_AFTER
        if due:
            requeued += queue(reg, ("pending", "failed"))
    return requeued
