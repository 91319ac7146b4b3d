"""Settings read from the environment, once per container.

Nothing here runs at import time: Chalice imports ``app.py`` when it packages and deploys, without
the stage's environment, so settings are read lazily by :func:`get_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where used: ``import app`` reads only queue names from here, and must not build the
    # domain's pydantic models to do so.
    from chalicelib.domain.schedule import Schedule
    from chalicelib.domain.verification import Keys

DEFAULT_PREFIX = "kkreg-dev"


def resource_prefix() -> str:
    """The prefix of every table and queue name (``kkreg-<stage>``)."""
    return os.environ.get("KKREG_RESOURCE_PREFIX", DEFAULT_PREFIX)


def queue_name(kind: str) -> str:
    """Name of one of the service's queues; the infra template names them the same way."""
    return f"{resource_prefix()}-{kind}"


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise RuntimeError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class RegistrySettings:
    base_url: str
    # The key itself (local stack), or the name of the Secrets Manager secret holding it (deployed).
    api_key: str
    api_key_secret: str


@dataclass(frozen=True)
class Settings:
    campaign_name: str
    primary_capacity: int
    reserve_capacity: int
    min_age: int
    quota_shards: int
    registrations_table: str
    people_table: str
    campaign_table: str
    idempotency_table: str
    staff_table: str
    batches_table: str
    # Short-lived items with a TTL: phone verifications, code limits, wrong-birth-date counters.
    attempts_table: str
    # The waiting room's tickets, the positions the sequencer writes, and the line's state.
    queue_table: str
    region: str
    # A claim older than this belongs to a request that can no longer be running (API timeout x4).
    stale_claim_seconds: int
    idempotency_ttl_seconds: int
    registries: dict[str, RegistrySettings]
    registry_retry_base_seconds: float
    schedule: Schedule
    doses: int
    dose_interval_days: int
    # The public page's address, for the link in the SMS that shows the receipt code as a QR code.
    public_url: str
    sms_url: str
    sms_api_key: str
    sms_api_key_secret: str
    # The app channel takes a registration only with a signed token for its phone (PHONE_VERIFICATION).
    phone_verification: bool
    # At most this many active app-channel registrations per phone (counter and employer: no limit).
    phone_registration_limit: int
    # At most this many different people registered through the app with one phone over the campaign,
    # cancelled ones included (a cancel gives the active share back, never this one).
    phone_lifetime_limit: int
    # Local stack only: public POSTs per client address in 5 minutes (0: no limit). Deployed, AWS WAF.
    edge_rate_limit_per_5min: int
    # Local stack only: phone verifications asked per client address in 5 minutes (0: no limit), the
    # mirror of the deployed VerificationRateLimit rule.
    edge_verification_limit_per_5min: int
    # The deployment's stage (dev, prod; local or test on this machine): the SMS budget's alarm
    # watches the SMS metrics of its own stage by this dimension.
    stage: str
    # Personal fields are erased this many days after the campaign's last vaccination day (PDPA).
    retention_days: int
    # That day when the operator knows it; None: estimated from the schedule (domain.retention).
    vaccination_last_day: date | None
    # How a person reaches the data protection officer: shown on the public page and GET /v1/consent.
    dpo_contact: str
    # Field encryption (store/datakeys.py): the KMS key that wraps the data keys (an alias or ARN),
    # how long a container uses one data key, and how many data keys it keeps unwrapped.
    data_key_master: str
    data_key_max_age_seconds: int
    data_key_cache_size: int
    # The waiting room on the app channel (contract v1.2): off is v1.1, registrations without a line.
    waiting_room: bool
    # The opening instant (epoch seconds), None: open now. The line takes joins from
    # QUEUE_OPENS_MINUTES_BEFORE minutes before it; joins before it are drawn in a random order.
    registration_opens_at: float | None
    queue_opens_minutes_before: int
    # Households admitted a minute until an admin changes it (then the stored rate rules).
    admit_per_minute: int
    admission_minutes: int
    # The most shard keys joins of one second are spread over (PER_SHARD_JOINS each).
    queue_shards: int


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    prefix = resource_prefix()
    return Settings(
        campaign_name=os.environ.get("CAMPAIGN_NAME", "Khon Kaen City Municipality Sinopharm vaccination 2021"),
        primary_capacity=_int("CAMPAIGN_PRIMARY_CAPACITY", 50_000),
        reserve_capacity=_int("CAMPAIGN_RESERVE_CAPACITY", 10_000),
        min_age=_int("CAMPAIGN_MIN_AGE", 18),
        quota_shards=_int("QUOTA_SHARDS", 16, minimum=1),
        registrations_table=os.environ.get("REGISTRATIONS_TABLE", f"{prefix}-registrations"),
        people_table=os.environ.get("PEOPLE_TABLE", f"{prefix}-people"),
        campaign_table=os.environ.get("CAMPAIGN_TABLE", f"{prefix}-campaign"),
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE", f"{prefix}-idempotency"),
        staff_table=os.environ.get("STAFF_TABLE", f"{prefix}-staff"),
        batches_table=os.environ.get("BATCHES_TABLE", f"{prefix}-batches"),
        attempts_table=os.environ.get("ATTEMPTS_TABLE", f"{prefix}-attempts"),
        queue_table=os.environ.get("QUEUE_TABLE", f"{prefix}-queue"),
        region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-1")),
        stale_claim_seconds=_int("STALE_CLAIM_SECONDS", 120, minimum=1),
        idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", 90_000, minimum=86_400),
        registries={
            name: RegistrySettings(
                base_url=os.environ.get(f"REGISTRY_{name.upper()}_URL", ""),
                api_key=os.environ.get(f"REGISTRY_{name.upper()}_API_KEY", ""),
                api_key_secret=os.environ.get(f"REGISTRY_{name.upper()}_API_KEY_SECRET", ""),
            )
            for name in ("mor_phrom", "khon_kaen_phrom")
        },
        registry_retry_base_seconds=float(os.environ.get("REGISTRY_RETRY_BASE_SECONDS", "0.2")),
        schedule=_schedule(),
        doses=_int("DOSES", 2, minimum=1),
        dose_interval_days=_int("DOSE_INTERVAL_DAYS", 28, minimum=1),
        public_url=os.environ.get("PUBLIC_PAGE_URL", "").rstrip("/"),
        sms_url=os.environ.get("SMS_GATEWAY_URL", ""),
        sms_api_key=os.environ.get("SMS_GATEWAY_API_KEY", ""),
        sms_api_key_secret=os.environ.get("SMS_GATEWAY_API_KEY_SECRET", ""),
        phone_verification=_phone_verification(),
        phone_registration_limit=_int("PHONE_REGISTRATION_LIMIT", 4, minimum=1),
        phone_lifetime_limit=_int("PHONE_LIFETIME_LIMIT", 6, minimum=1),
        edge_rate_limit_per_5min=_int("EDGE_RATE_LIMIT_PER_5MIN", 0),
        edge_verification_limit_per_5min=_int("EDGE_VERIFICATION_LIMIT_PER_5MIN", 0),
        stage=os.environ.get("KKREG_STAGE") or "unset",
        retention_days=_int("RETENTION_DAYS", 365, minimum=1),
        vaccination_last_day=_day("VACCINATION_LAST_DAY"),
        dpo_contact=os.environ.get("DPO_CONTACT", "").strip(),
        data_key_master=os.environ.get("KKREG_DATA_KEY") or f"alias/{prefix}-data",
        data_key_max_age_seconds=_int("DATA_KEY_MAX_AGE_SECONDS", 3600, minimum=60),
        data_key_cache_size=_int("DATA_KEY_CACHE_SIZE", 1000, minimum=1),
        waiting_room=_on_off("WAITING_ROOM", "on"),
        registration_opens_at=_instant("REGISTRATION_OPENS_AT"),
        queue_opens_minutes_before=_int("QUEUE_OPENS_MINUTES_BEFORE", 30),
        admit_per_minute=_int("ADMIT_PER_MINUTE", DEFAULT_ADMIT_PER_MINUTE),
        admission_minutes=_int("ADMISSION_MINUTES", 15, minimum=1),
        queue_shards=_int("QUEUE_SHARDS", 16, minimum=1),
    )


# The prod stage's API throttle is 500 requests/s (infra/stages.json). An admitted household makes
# ~2-4 requests (its registrations, a retry): 3,000 households a minute are 50 a second, ~150
# requests/s, under a third of the throttle; the rest is left to the line itself (joins, a ticket
# read or two each, the shared GET /v1/queue that caches answer) and to lookups (docs/capacity.md).
DEFAULT_ADMIT_PER_MINUTE = 3000


def _on_off(name: str, default: str) -> bool:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in ("on", "off"):
        raise RuntimeError(f"{name} must be on or off, got {raw!r}")
    return raw == "on"


def _instant(name: str) -> float | None:
    """An ISO 8601 instant with its offset (``2026-12-20T09:00:00+07:00``), as epoch seconds."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise RuntimeError(f"{name} must be an ISO 8601 instant, got {raw!r}") from None
    if moment.tzinfo is None:
        raise RuntimeError(f"{name} needs its offset (e.g. +07:00), got {raw!r}")
    return moment.timestamp()


def _day(name: str) -> date | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be YYYY-MM-DD, got {raw!r}") from exc


def _phone_verification() -> bool:
    raw = (os.environ.get("PHONE_VERIFICATION") or "required").strip().lower()
    if raw not in ("required", "off"):
        raise RuntimeError(f"PHONE_VERIFICATION must be required or off, got {raw!r}")
    return raw == "required"


# The stages whose functions may use the public development key below instead of a secret. Only the
# local stack (local/stack.py) and the tests (tests/conftest.py) set KKREG_STAGE to one of them, and
# they set it explicitly: an unset KKREG_STAGE is not one of them, and a Lambda function never is.
DEV_KEY_STAGES = ("local", "test")
DEV_KEY = "local-development-key-not-secret"


@lru_cache(maxsize=1)
def hmac_key() -> bytes:
    """The key of the HMAC that turns a national ID into the people table's key (and, through
    :func:`verification_keys`, derives OTP codes, phone tokens and ID pointers).

    Read only by the functions that need it (not the authorizer, not the removal worker): from
    ``KKREG_HMAC_KEY``, or from the Secrets Manager secret named by ``KKREG_HMAC_KEY_SECRET``; the
    public :data:`DEV_KEY` only where ``KKREG_STAGE`` says ``local`` or ``test`` outside Lambda.

    Raises RuntimeError (logged first, naming the settings, never a key) when a deployed function
    has no key: it then fails every request that needs one rather than serve with a public key.
    """
    key = os.environ.get("KKREG_HMAC_KEY", "")
    if not key and os.environ.get("KKREG_HMAC_KEY_SECRET"):
        from chalicelib.store.secrets import secret

        key = secret(os.environ["KKREG_HMAC_KEY_SECRET"])
    if key:
        return key.encode("utf-8")
    stage = os.environ.get("KKREG_STAGE", "")
    if stage in DEV_KEY_STAGES and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return DEV_KEY.encode("utf-8")
    from aws_lambda_powertools import Logger

    message = "no HMAC key: set KKREG_HMAC_KEY_SECRET (deployed) or KKREG_STAGE=local (local stack only)"
    Logger(child=True).error(message, extra={"stage": stage or "(unset)"})
    raise RuntimeError(message)


@lru_cache(maxsize=1)
def admission_key() -> bytes:
    """The key of the waiting room's admission tokens, derived from :func:`hmac_key`."""
    from chalicelib.domain.queue.standing import admission_key as derive

    return derive(hmac_key())


@lru_cache(maxsize=1)
def verification_keys() -> Keys:
    """The sub-keys of phone verification (codes, tokens, phone hashes), derived from :func:`hmac_key`."""
    from chalicelib.domain.verification import Keys

    return Keys.derive(hmac_key())


def _schedule() -> Schedule:
    from chalicelib.domain.rules import today_in_bangkok
    from chalicelib.domain.schedule import DEFAULT_SITES, parse_schedule

    today = today_in_bangkok()
    try:
        schedule = parse_schedule(
            os.environ.get("VACCINATION_FIRST_DAY", ""),
            os.environ.get("VACCINATION_SITES", DEFAULT_SITES),
            os.environ.get("VACCINATION_CLOSED_DAYS", ""),
            today,
        )
    except ValueError as exc:
        raise RuntimeError(f"the vaccination schedule is refused: {exc}") from None
    if schedule.first_day < today:
        # Weeks into the campaign this is normal; an operator still wants to see it once per start.
        from aws_lambda_powertools import Logger

        Logger(child=True).warning(
            "VACCINATION_FIRST_DAY has passed: appointments are given from today on",
            extra={"first_day": schedule.first_day.isoformat(), "today": today.isoformat()},
        )
    return schedule
