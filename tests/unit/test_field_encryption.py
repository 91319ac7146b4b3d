"""Field encryption (store/fields.py) and its data keys (store/datakeys.py), on stand-ins of KMS and
of the campaign table: what each seal and open costs in requests, what a moved ciphertext does."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from chalicelib.domain.errors import Overloaded
from chalicelib.store.datakeys import DataKeys, UnknownDataKey
from chalicelib.store.fields import Fields
from chalicelib.store.table import ConditionFailed

HOUR = 3600


class FakeKms:
    """KMS as the data keys use it: a data key wrapped as the key XOR its context (enough to tell
    one context from another), and a count of every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: Exception | None = None

    def generate_data_key(self, **params: Any) -> dict[str, Any]:
        self._called("GenerateDataKey")
        key = os.urandom(32)
        return {"Plaintext": key, "CiphertextBlob": _wrap(key, params["EncryptionContext"])}

    def decrypt(self, **params: Any) -> dict[str, Any]:
        self._called("Decrypt")
        return {"Plaintext": _wrap(params["CiphertextBlob"], params["EncryptionContext"])}

    def _called(self, name: str) -> None:
        self.calls.append(name)
        if self.fail is not None:
            raise self.fail


def _wrap(data: bytes, context: dict[str, str]) -> bytes:
    pad = (str(sorted(context.items())).encode() * 32)[: len(data)]
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


class FakeCampaign:
    """The campaign table's get and put-if-absent, as ``store.table.Table`` answers them."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def get(self, pk: str) -> dict[str, Any]:
        self.calls.append("GetItem")
        return dict(self.items.get(pk, {}))

    def put(self, item: dict[str, Any]) -> None:
        self.calls.append("PutItem")
        if item["pk"] in self.items:
            raise ConditionFailed(dict(self.items[item["pk"]]))
        self.items[item["pk"]] = dict(item)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def container(kms: FakeKms, table: FakeCampaign, clock: Clock, capacity: int = 100) -> tuple[DataKeys, Fields]:
    keys = DataKeys(lambda: kms, table, "alias/kkreg-test-data", HOUR, capacity, clock)  # type: ignore[arg-type]
    return keys, Fields(keys)


@pytest.fixture
def world() -> tuple[FakeKms, FakeCampaign, Clock]:
    return FakeKms(), FakeCampaign(), Clock()


def test_a_container_takes_one_data_key_for_every_field_it_seals_in_its_period(world: Any) -> None:
    kms, table, clock = world
    _, fields = container(kms, table, clock)
    # When a container seals the fields of a thousand registrations within the hour
    sealed = [fields.seal(f"p#{n}", {"first_name": "สมชาย", "phone": "0812345678"}) for n in range(1000)]
    # Then it asked for one data key: the period's item read (none yet), one made, and stored
    assert kms.calls == ["GenerateDataKey"] and table.calls == ["GetItem", "PutItem"]
    # And every field is stored sealed, never as given, each with a nonce of its own
    assert all(b"0812345678" not in s["phone"] and "สมชาย".encode() not in s["first_name"] for s in sealed)
    assert len({s["phone"] for s in sealed}) == 1000
    assert fields.open("p#7", sealed[7], ("first_name", "phone")) == {"first_name": "สมชาย", "phone": "0812345678"}


def test_after_its_bound_a_container_takes_the_key_of_the_period_it_is_in(world: Any) -> None:
    kms, table, clock = world
    _, fields = container(kms, table, clock)
    first = fields.seal("p#1", {"phone": "0812345678"})
    # When the bound (DATA_KEY_MAX_AGE_SECONDS) has passed
    clock.now += HOUR
    second = fields.seal("p#1", {"phone": "0812345678"})
    # Then a second key was made (a new period's), and both fields still open
    assert kms.calls == ["GenerateDataKey", "GenerateDataKey"] and len(table.items) == 2
    assert first["phone"][1:5] != second["phone"][1:5]  # the kid
    assert {fields.open("p#1", s, ("phone",))["phone"] for s in (first, second)} == {"0812345678"}


def test_another_container_unwraps_the_periods_key_once_and_then_opens_without_a_request(world: Any) -> None:
    kms, table, clock = world
    _, writer = container(kms, table, clock)
    sealed = [writer.seal(f"p#{n}", {"last_name": "ใจดี"}) for n in range(50)]
    kms.calls.clear()
    table.calls.clear()
    # When another container opens them all, then seals in the same period
    _, reader = container(kms, table, clock)
    assert {reader.open(f"p#{n}", s, ("last_name",))["last_name"] for n, s in enumerate(sealed)} == {"ใจดี"}
    reader.seal("p#99", {"last_name": "ใจดี"})
    # Then it read the stored key and had KMS unwrap it, once, and made none of its own
    assert (kms.calls, table.calls) == (["Decrypt"], ["GetItem"])


def test_two_containers_racing_to_store_the_periods_key_both_use_the_one_stored(world: Any) -> None:
    kms, table, clock = world
    _, fields_a = container(kms, table, clock)
    _, fields_b = container(kms, table, clock)
    # Given container A read the period's item before B stored its key
    real_get = table.get

    def get_then_b_stores(pk: str) -> dict[str, Any]:
        found = real_get(pk)
        table.get = real_get
        fields_b.seal("p#b", {"phone": "0800000000"})
        return found

    table.get = get_then_b_stores
    # When A seals: its key cannot be stored (B's is), so it unwraps B's and uses that
    sealed = fields_a.seal("p#a", {"phone": "0811111111"})
    assert kms.calls == ["GenerateDataKey", "GenerateDataKey", "Decrypt"]
    # Then what A sealed opens in B with B's own key, without a request
    kms.calls.clear()
    assert fields_b.open("p#a", sealed, ("phone",))["phone"] == "0811111111" and kms.calls == []
    assert len(table.items) == 1


def test_a_ciphertext_moved_to_another_item_or_field_does_not_open(world: Any) -> None:
    kms, table, clock = world
    _, fields = container(kms, table, clock)
    sealed = fields.seal("p#someone", {"first_name": "สมชาย", "last_name": "ใจดี"})
    # A field copied onto another person's item
    with pytest.raises(InvalidTag):
        fields.open("p#someone-else", {"first_name": sealed["first_name"]}, ("first_name",))
    # A field copied into another field of the same item
    with pytest.raises(InvalidTag):
        fields.open("p#someone", {"last_name": sealed["first_name"]}, ("last_name",))
    # A field whose header names another key
    tampered = sealed["first_name"][:4] + bytes([sealed["first_name"][4] ^ 1]) + sealed["first_name"][5:]
    with pytest.raises(UnknownDataKey):
        fields.open("p#someone", {"first_name": tampered}, ("first_name",))


def test_fields_stored_before_encryption_read_as_they_are_and_none_stays_none(world: Any) -> None:
    kms, table, clock = world
    _, fields = container(kms, table, clock)
    assert fields.open("p#old", {"phone": "0812345678", "status": "confirmed"}, ("phone", "detail")) == {
        "phone": "0812345678",
        "status": "confirmed",
    }
    assert fields.seal("p#1", {"detail": None}) == {"detail": None}


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "DisabledException"])
def test_kms_refusing_is_overloaded_with_nothing_written_and_the_next_try_takes_the_key(world: Any, code: str) -> None:
    from botocore.exceptions import ClientError

    kms, table, clock = world
    _, fields = container(kms, table, clock)
    kms.fail = ClientError({"Error": {"Code": code, "Message": "no"}}, "GenerateDataKey")
    # When KMS refuses the data key
    with pytest.raises(Overloaded) as refused:
        fields.seal("p#1", {"phone": "0812345678"})
    # Then the caller is told to retry, and that nothing it meant to write was written
    assert refused.value.maybe_applied is False and not table.items
    # And once KMS answers again, the next seal takes the key
    kms.fail = None
    assert fields.open("p#1", fields.seal("p#1", {"phone": "0812345678"}), ("phone",))["phone"] == "0812345678"


def test_a_container_keeps_at_most_its_bound_of_unwrapped_keys(world: Any) -> None:
    kms, table, clock = world
    _, writer = container(kms, table, clock)
    sealed = []
    for _ in range(5):
        sealed.append(writer.seal("p#1", {"phone": "0812345678"}))
        clock.now += HOUR
    keys, reader = container(kms, table, clock, capacity=2)
    kms.calls.clear()
    # When a container with room for 2 keys opens fields of 5 periods, twice over
    for s in sealed + sealed:
        assert reader.open("p#1", s, ("phone",))["phone"] == "0812345678"
    # Then it holds 2, and unwrapped each key again when it had been forgotten (least recently used first)
    assert len(keys._known) == 2
    assert kms.calls == ["Decrypt"] * 10
