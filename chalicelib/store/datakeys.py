"""The data keys of field encryption (envelope encryption): AES-256 keys made by KMS, kept wrapped
(encrypted under the KMS key) in the campaign table, and used unwrapped from a bounded cache.

``datakey#<kid>`` / ``wrapped``: the data key of period ``kid`` as KMS wrapped it (its
``CiphertextBlob``, with the encryption context ``{"purpose": "kkreg-fields", "kid": "<kid>"}``, so
a wrapped key copied under another ``kid`` does not unwrap). A period is ``max_age`` seconds of the
clock; its number is the ``kid`` every field sealed with that key carries (``store/fields.py``).

A container takes the key of the period it is in when it first seals something: it reads the
period's item and unwraps it (``GetItem`` + ``kms:Decrypt``), or, when there is none yet, makes one
(``kms:GenerateDataKey``) and stores it if still absent (a conditional ``PutItem``; a container
that loses that race unwraps the winner's). It then seals with that key for at most ``max_age``
seconds, whatever the period, so the key costs two or three AWS requests per container and period,
never one per request. Opening a field sealed with a key it has not met costs the same once
(``GetItem`` + ``kms:Decrypt``); at most ``capacity`` unwrapped keys are kept, the least recently
used forgotten first. Every container shares the period's key, so a table holds one key per
period however many containers wrote it, and a scan meets few of them.

Every failure (KMS or DynamoDB refusing, throttling, timing out, a key disabled or not allowed)
is ``Overloaded`` with ``maybe_applied`` False: nothing the caller writes has been written yet. A
key that is not allowed or not usable is logged (its error code, never a key) at ERROR.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import Overloaded
from chalicelib.store.table import ConditionFailed, Table

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = Logger(child=True)

PREFIX = "datakey#"
# A KMS refusal that waiting out may cure; any other (access denied, a disabled or deleted key, a
# wrapped key that does not unwrap) is an operator's matter, logged at ERROR, and answered alike.
_TRANSIENT = {
    "ThrottlingException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
    "LimitExceededException",
}


def item_key(kid: int) -> str:
    return f"{PREFIX}{kid}"


class UnknownDataKey(Exception):
    """A sealed field names a data key the table does not hold (never written, or deleted)."""


class DataKeys:
    """The container's data keys: ``sealing()`` the one to seal with now, ``opening(kid)`` any other."""

    def __init__(
        self,
        kms: Callable[[], Any],
        campaign: Table,
        master_key: str,
        max_age_seconds: int,
        capacity: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kms = kms  # the client, made on first use (a function that never seals makes none)
        self._t = campaign
        self._master = master_key
        self._max_age = max_age_seconds
        self._capacity = capacity
        self._clock = clock
        self._current: tuple[int, AESGCM, float] | None = None
        self._known: OrderedDict[int, AESGCM] = OrderedDict()
        # One container asks once for a key, even when its first requests arrive together (the
        # local server's threads); the cache itself is held only for a dictionary operation.
        self._fetching = threading.Lock()
        self._cache = threading.Lock()

    def sealing(self) -> tuple[int, AESGCM]:
        """The key to seal with now and its ``kid``. Raises Overloaded (nothing written by the caller)."""
        current = self._current
        if current is not None and self._clock() - current[2] < self._max_age:
            return current[0], current[1]
        with self._fetching:
            now = self._clock()
            current = self._current
            if current is not None and now - current[2] < self._max_age:
                return current[0], current[1]
            kid = int(now // self._max_age)
            cipher = self._cached(kid) or self._take(kid)
            self._remember(kid, cipher)
            self._current = (kid, cipher, now)
            return kid, cipher

    def opening(self, kid: int) -> AESGCM:
        """The key fields sealed under ``kid`` open with. Raises Overloaded, UnknownDataKey."""
        cipher = self._cached(kid)
        if cipher is not None:
            return cipher
        with self._fetching:
            cipher = self._cached(kid)
            if cipher is None:
                with _nothing_written():
                    item = self._t.get(item_key(kid))
                if not item:
                    raise UnknownDataKey(kid)
                cipher = self._unwrap(kid, _blob(item["wrapped"]))
                self._remember(kid, cipher)
            return cipher

    def forget(self) -> None:
        """Forget every unwrapped key: as far as keys go, a new container (tests)."""
        with self._fetching, self._cache:
            self._current = None
            self._known.clear()

    def _take(self, kid: int) -> AESGCM:
        """The period's key: the stored one, else a new one stored (the first to store it wins)."""
        with _nothing_written():
            item = self._t.get(item_key(kid))
        if item:
            return self._unwrap(kid, _blob(item["wrapped"]))
        made = self._call("generate_data_key", KeyId=self._master, KeySpec="AES_256", EncryptionContext=_context(kid))
        try:
            with _nothing_written():
                self._t.put({"pk": item_key(kid), "wrapped": made["CiphertextBlob"], "made_at": int(self._clock())})
        except ConditionFailed as lost:
            return self._unwrap(kid, _blob(lost.old["wrapped"]))
        return _aesgcm(made["Plaintext"])

    def _unwrap(self, kid: int, wrapped: bytes) -> AESGCM:
        found = self._call("decrypt", CiphertextBlob=wrapped, KeyId=self._master, EncryptionContext=_context(kid))
        return _aesgcm(found["Plaintext"])

    def _cached(self, kid: int) -> AESGCM | None:
        with self._cache:
            cipher = self._known.get(kid)
            if cipher is not None:
                self._known.move_to_end(kid)
            return cipher

    def _remember(self, kid: int, cipher: AESGCM) -> None:
        with self._cache:
            self._known[kid] = cipher
            self._known.move_to_end(kid)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self._kms(), operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in _TRANSIENT:
                logger.error("the data keys' KMS key refused", extra={"operation": operation, "error": code})
            raise Overloaded(retry_after=2) from None
        except BotoCoreError:
            raise Overloaded(retry_after=2) from None
        return answer


@contextmanager
def _nothing_written() -> Iterator[None]:
    """The campaign table's part of taking a key: a refusal or a lost answer has written nothing the
    caller wanted (a key item stored whose answer was lost is found by the next try)."""
    try:
        yield
    except ConditionFailed:
        raise
    except Overloaded as exc:
        raise Overloaded(retry_after=exc.retry_after) from None


def _context(kid: int) -> dict[str, str]:
    return {"purpose": "kkreg-fields", "kid": str(kid)}


def _blob(value: Any) -> bytes:
    """A stored ``wrapped`` value as bytes (boto3 reads a binary attribute as a ``Binary``)."""
    raw = getattr(value, "value", value)
    return bytes(raw)


def _aesgcm(key: bytes) -> AESGCM:
    # Imported on first use: ``import app`` and the functions that never open a field need none of it.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)
