"""Field rules of the registration body: Thai national ID, names, phone, age."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import compress

# Thailand has kept UTC+7 without daylight saving since 1920; a fixed offset needs no tz database.
BANGKOK = timezone(timedelta(hours=7), "Asia/Bangkok")

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_ID_SEPARATORS = re.compile(r"[ \-]")
# Every pattern here is used with fullmatch: ``$`` also matches before a trailing newline.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Thai consonants, vowels, tone and other marks (U+0E01-U+0E3A, U+0E40-U+0E4E), Latin letters with
# accents (precomposed or combining), inner spaces and . - '
_THAI_LETTER = "\u0e01-\u0e3a\u0e40-\u0e4e"
# A name starts with a letter that stands on its own: a Thai vowel or tone mark has nothing to sit on.
_THAI_BASE = "\u0e01-\u0e30\u0e32\u0e33\u0e40-\u0e46"
# Latin Extended Additional (U+1E00-U+1EFF) too: Vietnamese letters, and what NFC makes of a Latin
# letter and its combining marks (t + U+0308 is U+1E97), so a name's NFC form stays in this set.
_LATIN_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_COMBINING = "\u0300-\u036f"
_NAME = re.compile(rf"[{_THAI_BASE}{_LATIN_LETTER}][{_THAI_LETTER}{_LATIN_LETTER}{_COMBINING} .'\-]*")
# Control (Cc: newline, tab, NUL) and format (Cf: bidirectional overrides such as U+202E, zero-width
# characters) characters make text show differently from what it is: refused in every text field.
# Cs: a lone surrogate is not text at all.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs")


def today_in_bangkok(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(BANGKOK).date()


def thai_id_check_digit(first12: str) -> int:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def normalise_national_id(raw: str) -> str:
    """13 ASCII digits with a valid check digit; Thai digits, spaces and dashes are accepted.

    Raises ValueError when the value is not a valid Thai national ID.
    """
    value = _ID_SEPARATORS.sub("", raw.translate(_THAI_DIGITS))
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        raise ValueError("national_id must have 13 digits")
    if thai_id_check_digit(value[:12]) != int(value[12]):
        raise ValueError("national_id check digit is wrong")
    return value


def has_hidden_characters(text: str) -> bool:
    """True when ``text`` has a control, format or surrogate character (Unicode Cc, Cf, Cs)."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in text)


def normalise_name(raw: str) -> str:
    """Trimmed name of 1-100 characters made of letters, inner spaces, '.', '-' and "'", in NFC.

    NFC: "é" typed as e + U+0301 and as U+00E9 is one name, stored one way. The rule is judged on
    the name as sent, as the OpenAPI pattern describes it: NFC can make a name longer (a mark that
    decomposes, marks reordered), and its characters stay in the allowed set.
    """
    value = raw.strip(" ")
    if not 1 <= len(value) <= 100 or has_hidden_characters(value) or not _NAME.fullmatch(value):
        raise ValueError("name has characters that are not allowed")
    return unicodedata.normalize("NFC", value)


def normalise_phone(raw: str) -> str:
    """Thai mobile number in its 10-digit form (06, 08 or 09); accepts +66, spaces and dashes."""
    value = _ID_SEPARATORS.sub("", raw)
    if value.startswith("+66"):
        value = "0" + value[3:]
    if len(value) != 10 or not value.isascii() or not value.isdigit() or value[:2] not in ("06", "08", "09"):
        raise ValueError("phone must be a Thai mobile number")
    return value


def parse_birth_date(raw: str, today: date) -> date:
    """A real ``YYYY-MM-DD`` date, not after ``today`` and not before 1900."""
    if not _DATE.fullmatch(raw):
        raise ValueError("birth_date must be YYYY-MM-DD")
    value = date.fromisoformat(raw)
    if value > today or value.year < 1900:
        raise ValueError("birth_date is out of range")
    return value


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day``; someone born on 29 February comes of age on 1 March."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def clean_text(raw: str, max_len: int) -> str:
    """Free text (address, employer, label): trimmed of spaces, 1..max_len characters.

    Raises ValueError for a control or format character anywhere, a trailing newline included
    (checked before trimming, so a newline is refused, not silently cut).
    """
    if has_hidden_characters(raw):
        raise ValueError("text has control or format characters")
    value = raw.strip()
    if not 1 <= len(value) <= max_len:
        raise ValueError("text length out of range")
    if all(unicodedata.category(ch)[0] in ("C", "Z", "M") for ch in value):
        raise ValueError("text is blank")  # only zero-width, format or combining characters
    return value


def text_pattern(max_len: int) -> str:
    """The set of values ``clean_text(value, max_len)`` takes, as a JSON Schema ``pattern``.

    Whole-value: no control or format character anywhere; what is left once the spaces ``str.strip``
    removes are trimmed is 1..max_len characters and has one that is not a control, format, space or
    combining mark. The syntax is what ECMA-262 (with Unicode semantics), Python's ``re`` and Rust's
    ``regex`` read alike (``\\uXXXX``, characters beyond the BMP written as themselves, a lookahead),
    and ``$`` is the end of the value, as in ECMA-262 (Python's ``re`` needs ``fullmatch`` for that).
    Lone surrogates (Cs), which ``clean_text`` also refuses, are left out: no engine but Python's can
    name them in a pattern, and UTF-8 cannot carry them.
    """
    hidden, space, visible = _text_classes()
    edge = f"[^{hidden}{space}]"  # what a trimmed value starts and ends with
    inner = f"[^{hidden}]"
    body = edge if max_len == 1 else f"{edge}(?:{inner}{{0,{max_len - 2}}}{edge})?"
    return f"^[{space}]*(?={inner}*[{visible}]){body}[{space}]*$"


@lru_cache(maxsize=1)
def _text_classes() -> tuple[str, str, str]:
    """Character-class bodies, from this Python's Unicode tables (the ones ``clean_text`` judges
    by, so the pattern cannot drift from it): hidden (Cc, Cf), the spaces ``strip`` trims once hidden
    ones are refused, and visible (neither C, Z nor M). Built with the first document only."""
    everything = "".join(map(chr, range(0x110000)))
    categories = list(map(unicodedata.category, everything))
    kind = {
        c: "h" if c in ("Cc", "Cf") else "x" if c == "Cs" else "o" if c[0] in "CZM" else "v" for c in set(categories)
    }
    marks = list(map(kind.__getitem__, categories))
    for code in compress(range(len(everything)), map(str.isspace, everything)):  # what strip() trims
        if marks[code] not in ("h", "x"):
            marks[code] = "s"
    text = "".join(marks)
    return _class_body(text, "h"), _class_body(text, "s"), _class_body(text, "v")


def _class_body(marks: str, mark: str) -> str:
    runs = (found.span() for found in re.finditer(f"{mark}+", marks))
    return "".join(_escaped(low) + ("" if high - low == 1 else "-" + _escaped(high - 1)) for low, high in runs)


def _escaped(code: int) -> str:
    # Beyond the BMP there is no escape the three engines share: the character itself is read alike.
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def person_key(national_id: str, secret: bytes) -> str:
    """Keyed hash of a normalised national ID: the only form in which the people table holds it."""
    return hmac.new(secret, national_id.encode("ascii"), hashlib.sha256).hexdigest()


def person_pointer(national_id: str, secret: bytes) -> bytes:
    """The first 128 bits of the person's keyed hash: where their registration is stored."""
    return bytes.fromhex(person_key(national_id, secret))[:16]


def receipt_code(pointer: bytes, secret: bytes | None = None) -> str:
    """``r_`` + the person's pointer and 128 random bits (URL-safe base64, no padding).

    The pointer lets the code resolve with one read (the person's item); the random half is what
    makes it unguessable and is compared in constant time. A code without the random half's owner
    resolves to nothing.
    """
    secret = secrets.token_bytes(16) if secret is None else secret
    if len(pointer) != 16 or len(secret) != 16:
        raise ValueError("pointer and secret are 16 bytes each")
    return "r_" + base64.urlsafe_b64encode(pointer + secret).decode("ascii").rstrip("=")


def code_pointer(code: str) -> bytes | None:
    """The person pointer a receipt code carries, or None for anything that is not one."""
    if not code.startswith("r_") or len(code) != 45 or not code.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(code[2:] + "=")
    except (binascii.Error, ValueError):
        return None
    return raw[:16] if len(raw) == 32 else None


def new_registration_id(pointer: bytes | None = None) -> str:
    """A new receipt code (a random pointer when none is given: tests and tools)."""
    return receipt_code(pointer if pointer is not None else secrets.token_bytes(16))


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def idempotency_fingerprint(scope: str, key: str, body: object) -> str:
    """What a registration keeps of the request that made it: hashes of its Idempotency-Key (in
    its scope: channel and token) and of its body (as a JSON value: key order and spacing aside)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    key_hash = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()[:32]
    return key_hash + ":" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def same_idempotency_key(a: str, b: str) -> bool:
    """Whether two fingerprints were made with the same Idempotency-Key (bodies aside)."""
    return hmac.compare_digest(a.split(":", 1)[0].encode(), b.split(":", 1)[0].encode())
