"""Hygiene rules of contract v1.1: whole-value matches, no hidden characters, NFC names, safe CSV cells."""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain import rules
from chalicelib.domain.exports import CsvSheet, safe_cell
from chalicelib.domain.models import Eligibility

HIDDEN = {
    "newline at the end": "สมชาย\n",
    "carriage return": "สม\rชาย",
    "tab": "สม\tชาย",
    "right-to-left override": "Jos\u202ee",
    "zero-width space": "สม\u200bชาย",
    "zero-width joiner": "สม\u200dชาย",
    "byte order mark": "\ufeffสมชาย",
    "NUL": "สม\x00ชาย",
}


@pytest.mark.parametrize("raw", HIDDEN.values(), ids=HIDDEN.keys())
def test_names_with_control_or_format_characters_are_refused(raw: str) -> None:
    # Given a name with a character that hides or reorders text / When normalised / Then refused
    with pytest.raises(ValueError):
        rules.normalise_name(raw)


@pytest.mark.parametrize("raw", HIDDEN.values(), ids=HIDDEN.keys())
def test_free_text_with_control_or_format_characters_is_refused(raw: str) -> None:
    # Given an address with such a character (a trailing newline too: not silently trimmed away)
    with pytest.raises(ValueError):
        rules.clean_text("12 ถ.หน้าเมือง " + raw, 300)


def test_a_birth_date_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        rules.parse_birth_date("1980-01-31\n", rules.today_in_bangkok())


def test_names_are_stored_in_nfc() -> None:
    # Given "José" typed with a combining accent (e + U+0301)
    decomposed = "Jose\u0301"
    # When normalised / Then it is the precomposed form, the same as typed on another keyboard
    assert rules.normalise_name(decomposed) == "Jos\u00e9" == rules.normalise_name("Jos\u00e9")
    assert unicodedata.is_normalized("NFC", rules.normalise_name("ณัฐวุฒิ"))


def test_a_name_whose_nfc_form_leaves_the_basic_latin_blocks_is_taken() -> None:
    # Given a name whose marks NFC composes into Latin Extended Additional (t + U+0308 is U+1E97),
    # and a Vietnamese name typed with precomposed letters
    composed_elsewhere = "Mat\u0308\u0301"
    # When normalised / Then both are names, stored in NFC
    assert rules.normalise_name(composed_elsewhere) == "Ma\u1e97\u0301"
    assert rules.normalise_name("Nguy\u1ec5n") == "Nguy\u1ec5n"


def test_a_name_is_measured_as_sent_though_nfc_makes_it_longer() -> None:
    # Given 100 characters as sent, whose marks decompose under NFC (U+0344 is U+0308 U+0301)
    sent = "a" + "\u0344" * 99
    # When normalised / Then it is taken (the length the OpenAPI pattern states is the sent one)
    stored = rules.normalise_name(sent)
    assert len(stored) > 100 and unicodedata.is_normalized("NFC", stored)
    # And one character more is still refused
    with pytest.raises(ValueError):
        rules.normalise_name(sent + "a")


def test_legit_text_still_passes() -> None:
    assert rules.normalise_name("  O'Brien-Smith Jr. ") == "O'Brien-Smith Jr."
    assert rules.clean_text("  12/3 ม.4 ต.ในเมือง (ตรงข้ามตลาด) ", 300) == "12/3 ม.4 ต.ในเมือง (ตรงข้ามตลาด)"


def test_the_model_names_the_nested_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Eligibility.model_validate({"basis": "house_registration", "detail": "12 \u202eถ.หน้าเมือง"})
    assert [e["loc"] for e in caught.value.errors()] == [("detail",)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+66812345678", "'+66812345678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("0812345678", "0812345678"),
        ("1101700230708", "1101700230708"),
        ("1980-01-31", "1980-01-31"),
        ("สมชาย", "สมชาย"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_made_text(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_a_sheet_stays_plain_csv_for_a_program() -> None:
    # Given a sheet with a BOM, a hostile cell and an ordinary row
    sheet = CsvSheet(bom=True)
    sheet.row(["name", "phone", "detail"])
    sheet.row(["สมชาย", "0812345678", '=cmd|" /C calc"!A0'])
    # When a program reads it back / Then the ordinary cells are as they were, the hostile one is text
    text = sheet.text()
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [{"name": "สมชาย", "phone": "0812345678", "detail": '\'=cmd|" /C calc"!A0'}]


def _taken(text: str, max_len: int) -> bool:
    try:
        rules.clean_text(text, max_len)
    except ValueError:
        return False
    return True


@functools.cache
def _text_regex(max_len: int) -> re.Pattern[str]:
    return re.compile(rules.text_pattern(max_len))


def _matched(text: str, max_len: int) -> bool:
    # fullmatch: JSON Schema reads `$` as ECMA-262 does, the end of the value (Python's `$` also
    # matches before a last newline)
    return _text_regex(max_len).fullmatch(text) is not None


def test_the_text_pattern_excludes_every_control_and_format_character() -> None:
    # Given every character Python classes as control (Cc) or format (Cf), in the BMP and beyond
    hidden = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf")]
    assert "\n" in hidden and "\u202e" in hidden and "\u200b" in hidden and "\U000e0001" in hidden
    # When each stands alone, inside a text or at its end / Then the pattern refuses it, as the check does
    for ch in hidden:
        for text in (ch, f"a{ch}b", f"12 ถ.หน้าเมือง{ch}"):
            assert not _matched(text, 300) and not _taken(text, 300), hex(ord(ch))


def test_the_text_pattern_takes_inside_a_text_every_character_the_check_takes() -> None:
    # Given every other character of the BMP (surrogates aside: no UTF-8 text carries one)
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        # When it stands alone and inside a text / Then the pattern and the check agree
        assert _matched(f"a{ch}b", 300) == _taken(f"a{ch}b", 300), hex(code)
        assert _matched(ch, 300) == _taken(ch, 300), hex(code)


_TRICKY = st.sampled_from(
    [
        "a",
        "ก",
        "\u0e31",  # a Thai vowel mark: combining, blank on its own
        "\u0301",
        " ",
        "\u00a0",
        "\u3000",
        "\u2028",  # a line separator: a space strip() trims, and not a control character
        "\u200b",
        "\u202e",
        "\n",
        "\t",
        "\x85",
        "\ue000",  # private use: blank on its own
        "\U000abcde",  # unassigned: blank on its own
        "\U0001f600",
        "\U00012000",  # cuneiform, a letter beyond the BMP
        "\U000e0001",  # a tag: format beyond the BMP
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    text=st.one_of(
        st.lists(_TRICKY, max_size=8).map("".join),
        st.text(max_size=8),
        st.tuples(st.lists(_TRICKY, max_size=3), st.text(min_size=3, max_size=7)).map(
            lambda t: "".join(t[0]) + t[1] + "".join(reversed(t[0]))
        ),
    ),
    max_len=st.sampled_from([1, 2, 5, 300]),
)
def test_the_text_pattern_takes_exactly_what_the_check_takes(text: str, max_len: int) -> None:
    # Given any text, with spaces, marks, hidden and unassigned characters around or within it
    # When the OpenAPI pattern and the validator judge it / Then they agree, trimmed length included
    assert _matched(text, max_len) == _taken(text, max_len)
