"""Field rules: Thai national ID check digit, names, phone, age on the day."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from chalicelib.domain import rules
from chalicelib.domain.quota import shard_capacities


@pytest.mark.parametrize(
    "raw",
    ["1101700230708", "1-1017-00230-70-8", "1 1017 00230 70 8", "๑๑๐๑๗๐๐๒๓๐๗๐๘", "3100600000013"],
)
def test_valid_national_ids_are_normalised_to_13_digits(raw: str) -> None:
    # Given a valid ID written with separators or Thai digits / When normalised / Then 13 ASCII digits
    value = rules.normalise_national_id(raw)
    assert len(value) == 13 and value.isascii() and value.isdigit()


@pytest.mark.parametrize(
    "raw",
    [
        "1101700230709",  # wrong check digit
        "110170023070",  # 12 digits
        "11017002307080",  # 14 digits
        "1101700230７08",  # full-width digit
        "1101700230708\u200b",  # zero-width space
        "abcdefghijklm",
        "",
        "1_101700230708",
    ],
)
def test_invalid_national_ids_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        rules.normalise_national_id(raw)


def test_check_digit_matches_the_published_formula() -> None:
    # Given 110170023070 / Then (11 - (Σ dᵢ·(14-i)) mod 11) mod 10 = 8
    assert rules.thai_id_check_digit("110170023070") == 8
    # and a sum that is 0 mod 11 wraps: (11 - 0) mod 10 = 1
    assert rules.thai_id_check_digit("000000000000") == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812345678", "0812345678"),
        ("081-234-5678", "0812345678"),
        ("+66812345678", "0812345678"),
        ("+66 81 234 5678", "0812345678"),
        ("0612345678", "0612345678"),
        ("0912345678", "0912345678"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str) -> None:
    assert rules.normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["0212345678", "081234567", "08123456789", "+6681234567", "66812345678", "๐812345678"])
def test_non_mobile_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        rules.normalise_phone(raw)


@pytest.mark.parametrize("raw", ["สมชาย", "ณัฐวุฒิ", "José", "O'Brien", "Mary-Jane", "Jr. Smith", "  สมชาย  ", "Zoë"])
def test_names_with_letters_marks_and_inner_punctuation_are_accepted(raw: str) -> None:
    assert rules.normalise_name(raw) == raw.strip()


@pytest.mark.parametrize("raw", ["", "   ", "x" * 101, "A1", "Bob\u200b", "\u202eevil", "<script>", "๑๒", "-", "'"])
def test_names_with_other_characters_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        rules.normalise_name(raw)


def test_age_is_reached_on_the_birthday() -> None:
    born = date(2008, 7, 6)
    assert rules.age_on(born, date(2026, 7, 5)) == 17
    assert rules.age_on(born, date(2026, 7, 6)) == 18


def test_someone_born_on_29_february_comes_of_age_on_1_march() -> None:
    born = date(2008, 2, 29)
    assert rules.age_on(born, date(2026, 2, 28)) == 17
    assert rules.age_on(born, date(2026, 3, 1)) == 18


def test_birth_dates_must_be_real_past_dates() -> None:
    today = date(2026, 7, 6)
    assert rules.parse_birth_date("1980-01-31", today) == date(1980, 1, 31)
    for bad in ("1980-02-30", "2026-07-07", "31/01/1980", "1980-1-31", "1899-12-31"):
        with pytest.raises(ValueError):
            rules.parse_birth_date(bad, today)


def test_today_is_judged_in_bangkok() -> None:
    from datetime import datetime

    # 18:00 UTC on 5 July is already 01:00 on 6 July in Bangkok
    assert rules.today_in_bangkok(datetime(2026, 7, 5, 18, 0, tzinfo=UTC)) == date(2026, 7, 6)


def test_person_key_is_a_keyed_hash_not_the_number() -> None:
    key = rules.person_key("1101700230708", b"secret")
    assert "1101700230708" not in key
    assert key != rules.person_key("1101700230708", b"other secret")


def test_registration_ids_carry_128_random_bits_and_the_persons_pointer() -> None:
    # Given one person's pointer
    pointer = rules.person_pointer("1101700230708", b"secret")
    # When many receipt codes are made for them
    ids = {rules.new_registration_id(pointer) for _ in range(1000)}
    # Then each is different (the random half) and leads back to the person (the pointer half)
    assert len(ids) == 1000
    assert all(i.startswith("r_") and len(i) == 45 and rules.code_pointer(i) == pointer for i in ids)


def test_anything_but_a_receipt_code_has_no_pointer() -> None:
    for code in ("", "r_", "r_" + "A" * 22, "x_" + "A" * 43, "r_" + "*" * 43, "r_" + "ก" * 43):
        assert rules.code_pointer(code) is None


def test_shards_split_the_quota_exactly() -> None:
    caps = shard_capacities(50_000, 16)
    assert sum(caps) == 50_000 and max(caps) - min(caps) <= 1
    assert shard_capacities(3, 4) == [1, 1, 1, 0]


def test_a_log_ref_names_a_receipt_code_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import logs

    # Given two receipt codes / When their log refs are made / Then each is stable, short and its own
    code, other = "r_" + "A" * 43, "r_" + "B" * 43
    assert logs.code_ref(code) == logs.code_ref(code) != logs.code_ref(other)
    assert len(logs.code_ref(code)) == 12 and "AAAA" not in logs.code_ref(code)
    # And it is keyed: another service key gives another ref
    before = logs.code_ref(code)
    monkeypatch.setattr(logs, "hmac_key", lambda: b"another-key")
    assert logs.code_ref(code) != before
