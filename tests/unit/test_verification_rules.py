"""Phone verification's pure rules: derived codes, signed tokens, keyed hashes. No AWS."""

from __future__ import annotations

import pytest

from chalicelib.domain import verification as v
from chalicelib.domain.models import RegistrationView
from chalicelib.domain.verification import ConfirmRequest, LookupView

KEYS = v.Keys.derive(b"a test key")
OTHER = v.Keys.derive(b"another key")
NOW = 1_800_000_000


def test_each_purpose_has_its_own_key_and_none_is_the_master() -> None:
    keys = {KEYS.code, KEYS.token, KEYS.phone}
    assert len(keys) == 3 and b"a test key" not in keys
    assert v.Keys.derive(b"a test key") == KEYS


def test_a_code_is_six_digits_fixed_by_the_verification_and_the_key() -> None:
    vid = v.new_verification_id()
    code = v.code_for(vid, KEYS)
    assert len(code) == 6 and code.isdigit()
    assert v.code_for(vid, KEYS) == code
    assert v.same_code(code, vid, KEYS)
    assert not v.same_code(code, vid, OTHER) or v.code_for(vid, OTHER) == code
    # Codes of different verifications are spread out (not a counter, not a constant)
    assert len({v.code_for(v.new_verification_id(), KEYS) for _ in range(200)}) > 190


def test_a_verification_id_has_128_random_bits() -> None:
    ids = {v.new_verification_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("v_") and len(i) == 24 for i in ids)


def test_a_token_is_good_for_its_phone_until_it_expires() -> None:
    token = v.sign_token("0812345678", NOW + 60, KEYS)
    assert v.token_valid(token, "0812345678", NOW, KEYS)
    assert "0812345678" not in token  # it names the phone by a keyed hash only
    # Given the same token: another phone, after expiry, or under another key
    assert not v.token_valid(token, "0812345679", NOW, KEYS)
    assert not v.token_valid(token, "0812345678", NOW + 60, KEYS)
    assert not v.token_valid(token, "0812345678", NOW, OTHER)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: t.replace(f".{NOW + 600}.", f".{NOW + 86_400}."),  # expiry pushed out
        lambda t: "pv2" + t[3:],  # another version
        lambda t: ".".join(t.split(".")[:3]),  # signature dropped
        lambda t: t + ".x",
        lambda t: t.split(".")[0] + "." + "0" * 64 + "." + ".".join(t.split(".")[2:]),  # another phone hash
    ],
)
def test_a_tampered_token_is_refused(tamper: object) -> None:
    token = v.sign_token("0812345678", NOW + 600, KEYS)
    assert callable(tamper)
    assert not v.token_valid(tamper(token), "0812345678", NOW, KEYS)


@pytest.mark.parametrize(
    "token",
    [None, 12, "", "pv1", "pv1...", "pv1.a.b.c", "pv1.a.-1.c", "pv1.a.1e9.c", "ข" * 50, "x" * 10_000, "\x00", ["pv1"]],
)
def test_anything_malformed_is_not_a_token(token: object) -> None:
    assert not v.token_valid(token, "0812345678", NOW, KEYS)


@pytest.mark.parametrize("code", ["123456", "000000", "999999"])
def test_a_code_is_exactly_six_ascii_digits(code: str) -> None:
    assert ConfirmRequest.model_validate({"code": code}).code == code


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", "๑๒๓๔๕๖", "123456\n", " 123456", "１２３４５６"])
def test_anything_else_is_not_a_code(code: str) -> None:
    with pytest.raises(ValueError, match="code"):
        ConfirmRequest.model_validate({"code": code})


def test_the_lookup_view_is_the_resource_without_its_receipt_code() -> None:
    assert set(LookupView.model_fields) == set(RegistrationView.model_fields) - {"registration_id"}


def test_phone_hashes_are_keyed() -> None:
    assert v.phone_hash("0812345678", KEYS) != v.phone_hash("0812345678", OTHER)
    assert v.phone_hash("0812345678", KEYS) != v.phone_hash("0812345679", KEYS)
