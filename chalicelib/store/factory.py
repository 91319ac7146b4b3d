"""The stores the services use, by concept, built once per container from the settings.

``stores()`` answers the ``Stores`` protocol; unit tests put in-memory fakes in its place with
``use_stores`` (``tests/unit/fakes.py``), the engine-backed suites leave it on DynamoDB and SQS.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.config import admission_key, get_settings, hmac_key, queue_name, verification_keys
from chalicelib.store import clients
from chalicelib.store.attempts import AttemptStore, VerificationStore
from chalicelib.store.batches import BatchStore
from chalicelib.store.channels import ChannelStore
from chalicelib.store.datakeys import DataKeys
from chalicelib.store.fields import Fields
from chalicelib.store.gate import Gate
from chalicelib.store.glance import GlanceStore
from chalicelib.store.ledger import LedgerStore
from chalicelib.store.phones import PhoneStore
from chalicelib.store.protocols import Stores
from chalicelib.store.queue import QueueStore
from chalicelib.store.queues import JobQueue
from chalicelib.store.quota import QuotaStore
from chalicelib.store.registrations import RegistrationStore
from chalicelib.store.removal_control import RemovalControlStore
from chalicelib.store.reserve import ReserveStore
from chalicelib.store.slots import SlotStore
from chalicelib.store.staff import StaffStore
from chalicelib.store.statistics import StatisticsStore
from chalicelib.store.table import Table


@dataclass(frozen=True)
class DynamoStores:
    registrations: RegistrationStore
    quota: QuotaStore
    reserve: ReserveStore
    statistics: StatisticsStore
    slots: SlotStore
    ledger: LedgerStore
    channels: ChannelStore
    removal_control: RemovalControlStore
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
    glance: GlanceStore
    queue: QueueStore
    # Not a store of the protocol: the container's field encryption, which the stores above share.
    fields: Fields
    data_keys: DataKeys


_installed: list[Stores] = []
_building = threading.Lock()


def stores() -> Stores:
    """The stores of this container (the installed fakes, in a unit test)."""
    if _installed:
        return _installed[-1]
    # One set per container, even when its first requests arrive together (the local server's
    # threads): a store keeps places in hand, and a second set would strand the places of the first.
    with _building:
        return _dynamo_stores()


def use_stores(fake: Stores | None) -> None:
    """Serve ``fake`` from ``stores()`` until called with None (unit tests)."""
    _installed.clear()
    if fake is not None:
        _installed.append(fake)


@lru_cache(maxsize=1)
def _dynamo_stores() -> DynamoStores:
    s = get_settings()
    db = clients.dynamodb()
    # The campaign table holds several concepts, one store each; the gate is shared by the quota
    # (overflow, parked places) and the reserve (its active count and last ticket).
    campaign = Table(db, s.campaign_table, ("pk",))
    gate = Gate(campaign)
    # One set of data keys a container (wrapped in the campaign table), for every store's personal fields.
    keys = DataKeys(clients.kms, campaign, s.data_key_master, s.data_key_max_age_seconds, s.data_key_cache_size)
    fields = Fields(keys)
    registrations = RegistrationStore(db, s.registrations_table, fields)
    return DynamoStores(
        registrations=registrations,
        quota=QuotaStore(campaign, gate, s.primary_capacity, s.reserve_capacity, s.quota_shards),
        reserve=ReserveStore(campaign, gate),
        statistics=StatisticsStore(campaign),
        slots=SlotStore(campaign),
        ledger=LedgerStore(campaign),
        channels=ChannelStore(campaign),
        removal_control=RemovalControlStore(campaign),
        promotions=JobQueue(clients.sqs(), queue_name("promotion")),
        staff=StaffStore(db, s.staff_table),
        batches=BatchStore(db, s.batches_table, fields),
        batch_jobs=JobQueue(clients.sqs(), queue_name("batches")),
        removal_jobs=JobQueue(clients.sqs(), queue_name("removals")),
        reconcile_jobs=JobQueue(clients.sqs(), queue_name("reconcile")),
        appointment_jobs=JobQueue(clients.sqs(), queue_name("appointments")),
        sms_jobs=JobQueue(clients.sqs(), queue_name("sms")),
        verifications=VerificationStore(db, s.attempts_table, fields),
        attempts=AttemptStore(db, s.attempts_table),
        phones=PhoneStore(db, s.campaign_table),
        glance=GlanceStore(registrations.table, campaign, registrations.codec),
        queue=QueueStore(db, s.queue_table, QUEUE_KEEP_SECONDS),
        fields=fields,
        data_keys=keys,
    )


# The waiting room's items expire (DynamoDB TTL) this long after they were written: the line is
# over within the opening's days; its order stays readable for two months.
QUEUE_KEEP_SECONDS = 60 * 86_400


def dynamo_stores() -> DynamoStores:
    """The DynamoDB stores of this container, whatever fakes are installed (the engine-backed
    suites reach the field encryption through it)."""
    with _building:
        return _dynamo_stores()


def reset() -> None:
    """Forget every cached client and store (tests and the local stack start new backends)."""
    _dynamo_stores.cache_clear()
    # A module never imported has nothing cached (and the unit tests run without boto3).
    if idempotency := sys.modules.get("chalicelib.store.idempotency"):
        idempotency.persistence_layer.cache_clear()
    clients.reset()
    get_settings.cache_clear()
    hmac_key.cache_clear()
    verification_keys.cache_clear()
    admission_key.cache_clear()
