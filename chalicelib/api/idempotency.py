"""The ``Idempotency-Key`` header: replay the first outcome of a retried request.

Registrations keep no record of their own: the person's registration carries the key's fingerprint
(``rules.idempotency_fingerprint``) and answers a retry (``services.registrations``). The same key
with another body of the same person is refused there; a key reused for another person is refused
when this container has seen it, and a 409 is answered again by the container that answered it
(``replay_or_refuse``: exact on the local stack, one process; on AWS best effort, as no record is
written). Employer batches use Powertools' idempotency utility
(``once``): the key identifies the record, the body is the payload it validates.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalice.app import Request

from chalicelib.config import get_settings
from chalicelib.domain.errors import (
    AlreadyRegistered,
    DomainError,
    IdempotencyKeyReused,
    Overloaded,
    PhoneLimitReached,
    RegistrationFull,
    RequestInProgress,
    ValidationFailed,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

HEADER = "idempotency-key"
# 1-64 printable ASCII characters: what ``key_of`` accepts, as the OpenAPI document states it.
KEY_PATTERN = "^[\\x20-\\x7e]{1,64}$"
# 409s are outcomes of the request, so a retry must see them again; other errors are not kept.
REPLAYED_ERRORS = (AlreadyRegistered, RegistrationFull, PhoneLimitReached)

Outcome = dict[str, Any]  # {"status": int, "body": dict}


# The keyed registrations this container answered: key hash -> (body hash, the 409 it answered or
# None for a 201, which the person's registration itself replays).
RECENT_KEYS = 100_000
_recent: OrderedDict[str, tuple[str, DomainError | None]] = OrderedDict()
_recent_lock = threading.Lock()


def replay_or_refuse(fingerprint: str) -> None:
    """Before a keyed registration: raises IdempotencyKeyReused if this container answered the key
    with another body, or the 409 it answered the same body with."""
    key, body = fingerprint.split(":", 1)
    with _recent_lock:
        seen = _recent.get(key)
    if seen is None:
        return
    if seen[0] != body:
        raise IdempotencyKeyReused()
    if seen[1] is not None:
        raise seen[1]


def forget_all() -> None:
    """Tests and the local stack start new backends: keys answered before mean nothing there."""
    with _recent_lock:
        _recent.clear()


def remember(fingerprint: str, refused: DomainError | None = None) -> None:
    """After a keyed registration: its answer (a 201, or a 409 in ``refused``)."""
    key, body = fingerprint.split(":", 1)
    with _recent_lock:
        _recent[key] = (body, refused)
        _recent.move_to_end(key)
        while len(_recent) > RECENT_KEYS:
            _recent.popitem(last=False)


def key_of(request: Request) -> str | None:
    """The header's value, or None. Raises ValidationFailed unless it is 1-64 printable characters."""
    raw: str | None = request.headers.get(HEADER)
    if raw is None:
        return None
    if not 1 <= len(raw) <= 64 or not raw.isprintable() or not raw.isascii():
        raise ValidationFailed(["Idempotency-Key"])
    return raw


@lru_cache(maxsize=1)
def _runner() -> tuple[Callable[..., Outcome], IdempotencyConfig]:
    # Imported on first use: the utility pulls in boto3, which a request without a key never needs.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    from chalicelib.store.idempotency import persistence_layer

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request",
        persistence_store=persistence_layer(),
        config=config,
        key_prefix="registrations",
    )
    def run(request: dict[str, Any], action: Callable[[], Outcome]) -> Outcome:
        return action()

    return run, config


def once(scope: str, key: str, body: Any, action: Callable[[], Outcome], lambda_context: Any) -> Outcome:
    """Run ``action`` once per (scope, key); a retry with the same body gets the stored outcome.

    Raises IdempotencyKeyReused, RequestInProgress, Overloaded, or what ``action`` raises
    (those outcomes are not stored, so a retry runs again).
    """

    def keep_409s() -> Outcome:
        try:
            return action()
        except REPLAYED_ERRORS as exc:
            return {"status": 409, "body": {"error": exc.as_error()}}

    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    run, config = _runner()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    try:
        return run(request={"key": f"{scope}:{key}", "body": body}, action=keep_409s)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused() from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress(retry_after=1) from None
    except IdempotencyPersistenceLayerError:
        # The idempotency table itself refused a write (throttled or unreachable).
        raise Overloaded(retry_after=1) from None
