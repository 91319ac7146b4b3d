"""Schemathesis hooks: strategies for the formats the OpenAPI document names that JSON Schema
cannot check by itself. Loaded by Schemathesis in its own venv (``SCHEMATHESIS_HOOKS``), so this
imports only Schemathesis and Hypothesis, never the service.

- ``thai-national-id``: 13 digits whose last is the check digit (the pattern says the rest).
- ``date``: a real day (the document's pattern says ``YYYY-MM-DD``), drawn as an adult's birth date:
  a birth date must be from 1900 on and not in the future, which no schema can state, and a minor's
  is a 422 ``not_eligible``; such a day is a fine one for a report or a day list too.
- ``text``: free text (an address, an employer). The document's pattern states the whole rule (no
  control or format character, not blank, the length once trimmed); this draws readable text.
- ``verification-token``: text shaped like a phone's verification token (``make api-fuzz`` runs the
  stack with ``PHONE_VERIFICATION=off``, so a registration is taken whatever the token says).
- ``admission-token``: text shaped like a waiting room's admission token (the stack runs with
  ``WAITING_ROOM=off``: a registration needs none).

A hook on the values a pattern lets through that no schema can rule out, applied before each call:
a birth date the document's pattern generates (its ``format`` strategy is bypassed when a pattern is
present) that is in the future or before 1900 becomes the same day in 1980, and an audit ``cursor``
(opaque, carrying a MAC: only the service can make one, so any other is a 400) is left out.
Values that are not dates at all are left as they are: the negative checks need them.

And one hook on the stack's state: a channel a generated call closed (``PUT /v1/admin/channels/…``
with ``{"open": false}``, answered 200) is opened again at once, else every later registration on it
would be a 403 ``channel_closed`` and no phase would reach what a registration does next.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import Any

import requests
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
# A text is not blank: it starts with a letter that stands alone (a Thai vowel or tone mark does not).
BASES = "".join(ch for ch in LETTERS if not unicodedata.category(ch).startswith("M"))
texts = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(BASES),
    st.text(alphabet=LETTERS + " .,-/()'", max_size=40),
    st.sampled_from(LETTERS),
)

tokens = st.from_regex(r"pv1\.[0-9a-f]{64}\.[0-9]{10}\.[A-Za-z0-9_-]{43}", fullmatch=True)
admissions = st.from_regex(r"qa1\.[0-9a-f]{24}\.[0-9]{10}\.[A-Za-z0-9_-]{43}", fullmatch=True)

schemathesis.openapi.format("thai-national-id", national_ids)
schemathesis.openapi.format("date", adult_birth_dates)
schemathesis.openapi.format("text", texts)
schemathesis.openapi.format("verification-token", tokens)
schemathesis.openapi.format("admission-token", admissions)


def _impossible_birth_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    return day > date.today() or day.year < 1900


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    body = case.body
    if isinstance(body, dict) and _impossible_birth_date(body.get("birth_date")):
        body["birth_date"] = "1980" + body["birth_date"][4:]
    if isinstance(case.query, dict) and "cursor" in case.query and "/v1/admin/audit" in case.operation.path:
        del case.query["cursor"]


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    request = response.request
    if request.method != "PUT" or "/v1/admin/channels/" not in str(request.url) or response.status_code != 200:
        return
    try:
        closed = json.loads(response.content).get("open") is False
    except (ValueError, AttributeError):
        return
    if closed:
        reopened = requests.put(
            str(request.url),
            json={"open": True},
            headers={"Authorization": request.headers.get("Authorization", "")},
            timeout=30,
        )
        reopened.raise_for_status()
