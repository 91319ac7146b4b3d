"""Hygiene rules of contract v1.1: whole-value matches, no hidden characters, NFC names, safe CSV cells."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest
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
