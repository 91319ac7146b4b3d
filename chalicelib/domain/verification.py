"""Phone verification and lockouts: the pure rules (codes, signed tokens, keys). No AWS, no HTTP.

Every secret here is derived from the service's HMAC key with a label of its own, so a code, a
token signature and a phone's hash can never stand in for one another or for a person key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictStr, create_model

from chalicelib.domain.models import (
    LookupRequest,
    Phone,
    RegistrationRequest,
    RegistrationView,
    _Body,
)
from chalicelib.domain.names import VERIFICATION_ID_PATTERN as VERIFICATION_ID_PATTERN
from chalicelib.domain.rules import has_hidden_characters

CODE_DIGITS = 6
CODE_TTL_SECONDS = 600
RESEND_AFTER_SECONDS = 60
CODES_PER_DAY = 5
DAY_SECONDS = 86_400
WRONG_CODES_ALLOWED = 5
TOKEN_TTL_SECONDS = DAY_SECONDS
# A verification is kept a day after its code expired: a late confirm gets 422, not 404.
VERIFICATION_KEEP_SECONDS = DAY_SECONDS
# Birth-date comparisons per national ID (lookups) or registration (cancels) an hour: each takes an
# attempt before it compares, a right one gives it back (services/lockouts.py).
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_SECONDS = 3600
# Receipt-code SMS per registration: 3 a day (v1.2), at most one a minute (a double tap spends one).
RECEIPTS_PER_DAY = 3
RECEIPT_RESEND_SECONDS = 60

_TOKEN_VERSION = "pv1"  # noqa: S105 - the token format's version tag, not a secret  # nosec B105


@dataclass(frozen=True)
class Keys:
    """Sub-keys of the service's HMAC key, one per purpose."""

    code: bytes
    token: bytes
    phone: bytes

    @classmethod
    def derive(cls, master: bytes) -> Keys:
        def sub(label: str) -> bytes:
            return hmac.new(master, f"kkreg/{label}/v1".encode("ascii"), hashlib.sha256).digest()

        return cls(code=sub("verification-code"), token=sub("verification-token"), phone=sub("phone"))


# What ``new_verification_id`` makes, as a JSON Schema pattern (used with fullmatch).
TOKEN_MAX_LENGTH = 200


PHONE_KEY_BYTES = 12


def new_verification_id(phone_key: str = "") -> str:
    """``v_`` + URL-safe base64 (no padding) of 16 bytes: the first 96 bits of the phone's keyed hash
    (``phone_key``, hex) and 32 random bits, so that the ID leads to the phone's item without a
    lookup; 128 random bits when no phone key is given."""
    prefix = bytes.fromhex(phone_key[: 2 * PHONE_KEY_BYTES]) if phone_key else b""
    return "v_" + _b64(prefix + secrets.token_bytes(16 - len(prefix)))


def phone_key_of(verification_id: str) -> str:
    """The phone key (hex, 96 bits) a verification ID was made for; the caller has matched
    ``VERIFICATION_ID_PATTERN``."""
    raw = base64.urlsafe_b64decode(verification_id[2:] + "==")
    return raw[:PHONE_KEY_BYTES].hex()


def code_for(verification_id: str, keys: Keys) -> str:
    """The verification's 6-digit code: a keyed hash of its ID, so it is stored nowhere at all.

    Only a holder of the key (the API and the SMS worker) can compute it; the 256-bit MAC reduced
    mod 10^6 is uniform to within 2^-236.
    """
    mac = hmac.new(keys.code, verification_id.encode("utf-8"), hashlib.sha256).digest()
    return str(int.from_bytes(mac, "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def same_code(given: str, verification_id: str, keys: Keys) -> bool:
    return hmac.compare_digest(given.encode("ascii", "replace"), code_for(verification_id, keys).encode("ascii"))


def phone_hash(phone: str, keys: Keys) -> str:
    """Keyed hash of a normalised phone number: how limits and tokens name a phone."""
    return hmac.new(keys.phone, phone.encode("ascii"), hashlib.sha256).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def signed_token(version: str, subject: str, expires_at: int, key: bytes) -> str:
    """``<version>.<subject>.<expiry, epoch s>.<HMAC-SHA256 of the rest>``: a token checked with the
    key alone, no read (a phone's verification token; the waiting room's admission token)."""
    payload = f"{version}.{subject}.{expires_at}"
    return f"{payload}.{_mac(payload, key)}"


def signed_subject(token: object, version: str, now: int, key: bytes) -> str | None:
    """The subject of a :func:`signed_token` of ``version`` whose signature holds with ``key`` and
    which has not expired at ``now``; None for anything else (compared in constant time)."""
    if not isinstance(token, str) or len(token) > TOKEN_MAX_LENGTH or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != version or not parts[2].isdigit() or len(parts[2]) > 12:
        return None
    signed = hmac.compare_digest(parts[3].encode("ascii"), _mac(".".join(parts[:3]), key).encode("ascii"))
    return parts[1] if signed and int(parts[2]) > now else None


def _mac(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def sign_token(phone: str, expires_at: int, keys: Keys) -> str:
    """``pv1.<phone hash>.<expiry, epoch s>.<HMAC-SHA256>``: checked with the key alone, no read."""
    return signed_token(_TOKEN_VERSION, phone_hash(phone, keys), expires_at, keys.token)


def token_valid(token: object, phone: str, now: int, keys: Keys) -> bool:
    """True if ``token`` was signed with this key, for this (normalised) phone, and has not expired.

    The signature and the phone's hash are compared in constant time; anything malformed is False.
    """
    signed_for = verified_phone_hash(token, now, keys)
    return signed_for is not None and hmac.compare_digest(
        signed_for.encode("ascii"), phone_hash(phone, keys).encode("ascii")
    )


def verified_phone_hash(token: object, now: int, keys: Keys) -> str | None:
    """The phone's keyed hash a token of ours names, if its signature holds and it has not expired
    (the waiting room takes a token alone, without the phone); None for anything else."""
    return signed_subject(token, _TOKEN_VERSION, now, keys.token)


def verification_text(code: str) -> str:
    """The SMS, Thai first: "your code is …, valid 10 minutes; tell it to nobody"."""
    return (
        f"เทศบาลนครขอนแก่น: รหัสยืนยันเบอร์โทรของท่านคือ {code} ใช้ได้ 10 นาที ห้ามบอกผู้อื่น / "
        f"Khon Kaen vaccine registration: your code is {code}, valid for 10 minutes. Do not share it."
    )


def receipt_text(registration_id: str) -> str:
    """The SMS that carries a registration's receipt code, Thai first."""
    return (
        f"เทศบาลนครขอนแก่น: รหัสรับรองการลงทะเบียนวัคซีนของท่านคือ {registration_id} / "
        f"Your vaccine registration receipt code is {registration_id}."
    )


# The code's JSON Schema pattern is the rule itself (used with fullmatch: a trailing newline is invalid).
CODE_PATTERN = f"^[0-9]{{{CODE_DIGITS}}}$"
_CODE = re.compile(CODE_PATTERN)


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("code must be 6 digits")
    return value


def _token(value: str) -> str:
    # Hidden characters are a 400 as in every text field; anything else that is not our token is
    # left to the view: a 422 phone_not_verified, a 403 admission_required.
    if has_hidden_characters(value):
        raise ValueError("the token has control or format characters")
    return value


# Any text without hidden characters: whether it is our token is the view's 422, not a 400. The
# format tells a generated client (Schemathesis' hooks) to send token-shaped text.
VerificationTokenText = Annotated[
    StrictStr, AfterValidator(_token), Field(json_schema_extra={"format": "verification-token"})
]
AdmissionTokenText = Annotated[
    StrictStr, AfterValidator(_token), Field(json_schema_extra={"format": "admission-token"})
]


class VerificationRequest(_Body):
    phone: Phone


class VerificationStarted(BaseModel):
    verification_id: str = Field(description="v_ + 128 random bits")
    expires_in: int = Field(description="seconds the code is good for", examples=[CODE_TTL_SECONDS])
    resend_after: int = Field(description="seconds before another code may be sent", examples=[RESEND_AFTER_SECONDS])


class ConfirmRequest(_Body):
    code: Annotated[
        StrictStr,
        AfterValidator(_code),
        Field(description="the 6 digits sent by SMS", examples=["123456"], json_schema_extra={"pattern": CODE_PATTERN}),
    ]


class VerificationToken(BaseModel):
    verification_token: str = Field(description="send it with the registration; good for 24 hours")
    phone: str = Field(examples=["0812345678"])
    expires_at: str = Field(description="ISO 8601 UTC", examples=["2026-07-06T08:15:00Z"])


class AppRegistrationRequest(RegistrationRequest):
    """The registration body on the app channel: the contract's body and the phone's verification token."""

    verification_token: VerificationTokenText | None = Field(
        default=None, description="from POST /v1/verifications/{id}/confirm; required unless verification is off"
    )
    admission_token: AdmissionTokenText | None = Field(
        default=None, description="from GET /v1/queue/{ticket} once admitted; required while the waiting room is on"
    )


class ReceiptRequest(LookupRequest):
    """Same fields as a lookup: the receipt code goes by SMS to the registration's phone."""


class ReceiptSent(BaseModel):
    status: Literal["sent"] = "sent"


# The registration resource without its receipt code (``registration_id``), as a lookup answers: built
# from the resource's own fields, so a field the resource gains appears here too.
_LOOKUP_FIELDS: dict[str, Any] = {
    name: (f.annotation, f) for name, f in RegistrationView.model_fields.items() if name != "registration_id"
}
LookupView: type[BaseModel] = create_model(
    "LookupView", __doc__="The registration resource without registration_id (the receipt code).", **_LOOKUP_FIELDS
)


def lookup_view(view: RegistrationView) -> BaseModel:
    return LookupView.model_validate(view.model_dump(exclude={"registration_id"}))
