"""Schemathesis hooks: strategies for the formats the OpenAPI document names that JSON Schema
cannot check by itself. Loaded by Schemathesis in its own venv (``SCHEMATHESIS_HOOKS``), so this
imports only Schemathesis and Hypothesis, never the service.

- ``thai-national-id``: 13 digits whose last is the check digit (the pattern says the rest).
- ``birth-date``: a ``YYYY-MM-DD`` date from 1900 on and not in the future; generated as an adult's
  (a minor's is a 422 ``not_eligible``, a decision no schema can state).
- ``date``: any real day; an adult's birth date is a fine day for a report or a day list too.
- ``text``: free text (an address, an employer) that is not blank and has no control characters.
"""

from __future__ import annotations

from datetime import date

import schemathesis
from hypothesis import strategies as st

THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def _with_check_digit(first12: str) -> str:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return first12 + str((11 - total % 11) % 10)


def _written(national_id: str, form: int) -> str:
    if form == 1:  # as printed on the card
        return f"{national_id[0]}-{national_id[1:5]}-{national_id[5:10]}-{national_id[10:12]}-{national_id[12]}"
    if form == 2:
        return national_id.translate(THAI_DIGITS)
    return national_id


national_ids = st.builds(
    _written,
    st.from_regex(r"[1-8][0-9]{11}", fullmatch=True).map(_with_check_digit),
    st.sampled_from([0, 0, 1, 2]),
)
today = date.today()
adult_birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(today.year - 19, 1, 1)).map(date.isoformat)
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789กขคงจฉชซญดตถทนบปผพฟมยรลวสหอฮะาิีึืุูเแโใไ่้๊๋"
texts = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(LETTERS),
    st.text(alphabet=LETTERS + " .,-/()'", max_size=40),
    st.sampled_from(LETTERS),
)

schemathesis.openapi.format("thai-national-id", national_ids)
schemathesis.openapi.format("birth-date", adult_birth_dates)
schemathesis.openapi.format("date", adult_birth_dates)
schemathesis.openapi.format("text", texts)
