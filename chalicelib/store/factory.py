"""The stores the services use, built once per container from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from chalicelib.config import get_settings, hmac_key, queue_name, verification_keys
from chalicelib.store import clients
from chalicelib.store.attempts import AttemptStore, VerificationStore
from chalicelib.store.batches import BatchStore
from chalicelib.store.campaign import CampaignStore
from chalicelib.store.phones import PhoneStore
from chalicelib.store.queues import JobQueue
from chalicelib.store.registrations import RegistrationStore
from chalicelib.store.staff import StaffStore


@dataclass(frozen=True)
class Stores:
    registrations: RegistrationStore
    campaign: CampaignStore
    promotions: JobQueue
    staff: StaffStore
    batches: BatchStore
    batch_jobs: JobQueue
    removal_jobs: JobQueue
    reconcile_jobs: JobQueue
    appointment_jobs: JobQueue
    sms_jobs: JobQueue
    verifications: VerificationStore
    attempts: AttemptStore
    phones: PhoneStore


@lru_cache(maxsize=1)
def stores() -> Stores:
    s = get_settings()
    db = clients.dynamodb()
    return Stores(
        registrations=RegistrationStore(db, s.registrations_table),
        campaign=CampaignStore(db, s.campaign_table, s.primary_capacity, s.reserve_capacity, s.quota_shards),
        promotions=JobQueue(clients.sqs(), queue_name("promotion")),
        staff=StaffStore(db, s.staff_table),
        batches=BatchStore(db, s.batches_table),
        batch_jobs=JobQueue(clients.sqs(), queue_name("batches")),
        removal_jobs=JobQueue(clients.sqs(), queue_name("removals")),
        reconcile_jobs=JobQueue(clients.sqs(), queue_name("reconcile")),
        appointment_jobs=JobQueue(clients.sqs(), queue_name("appointments")),
        sms_jobs=JobQueue(clients.sqs(), queue_name("sms")),
        verifications=VerificationStore(db, s.attempts_table),
        attempts=AttemptStore(db, s.attempts_table),
        phones=PhoneStore(db, s.campaign_table),
    )


def reset() -> None:
    """Forget every cached client and store (tests and the local stack start new backends)."""
    from chalicelib.store import idempotency

    stores.cache_clear()
    idempotency.persistence_layer.cache_clear()
    from chalicelib.registries import factory as registries

    registries.reset()
    clients.reset()
    get_settings.cache_clear()
    hmac_key.cache_clear()
    verification_keys.cache_clear()
