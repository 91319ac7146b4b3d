"""The short-lived guards' store contract (``Attempts``, ``Verifications``), on the fake and on
DynamoDB: birth-date attempts (five an hour, then the rest of the hour refused), receipt texts (three
a day, one a minute), a staff token's refused calls recorded one by one (ten a minute), and phone
verifications past the basics: a phone's codes (one a minute, five a day), wrong codes (five, then
spent), what a verification records, and dead ones dropped a day after their code expired."""

from __future__ import annotations

from chalicelib.domain import verification as v
from chalicelib.domain.staff import REFUSED_AUDIT_PER_MINUTE
from chalicelib.domain.verification import (
    CODE_TTL_SECONDS,
    CODES_PER_DAY,
    DAY_SECONDS,
    LOCKOUT_FAILURES,
    LOCKOUT_WINDOW_SECONDS,
    RECEIPT_RESEND_SECONDS,
    RESEND_AFTER_SECONDS,
    VERIFICATION_KEEP_SECONDS,
    WRONG_CODES_ALLOWED,
)
from chalicelib.store.protocols import Stores
from chalicelib.store.types import PendingVerification

T0 = 1_000_000
PHONE = "0812345678"

# -- birth-date attempts ------------------------------------------------------------------------


def test_a_key_takes_five_attempts_an_hour_then_is_refused_for_the_rest_of_it(stores: Stores) -> None:
    # Given a key that took its five attempts over four minutes
    assert [stores.attempts.take("id#a", T0 + 60 * i) for i in range(LOCKOUT_FAILURES)] == [0] * LOCKOUT_FAILURES
    # When it asks again ten minutes after the first / Then refused until the hour from the first is over
    assert stores.attempts.take("id#a", T0 + 600) == LOCKOUT_WINDOW_SECONDS - 600
    assert stores.attempts.take("id#a", T0 + LOCKOUT_WINDOW_SECONDS - 1) == 1
    # And another key is its own
    assert stores.attempts.take("reg#b", T0 + 600) == 0


def test_a_refusal_does_not_count_and_a_new_hour_starts_afresh(stores: Stores) -> None:
    # Given a key locked out, and refused again
    for i in range(LOCKOUT_FAILURES + 3):
        stores.attempts.take("id#a", T0 + i)
    # When the hour from its first attempt is over
    later = T0 + LOCKOUT_WINDOW_SECONDS
    # Then it takes five again, counted from then
    assert [stores.attempts.take("id#a", later + i) for i in range(LOCKOUT_FAILURES)] == [0] * LOCKOUT_FAILURES
    assert stores.attempts.take("id#a", later + 10) == LOCKOUT_WINDOW_SECONDS - 10


# -- receipt texts ------------------------------------------------------------------------------


def test_a_registration_gets_three_receipt_texts_a_day_one_a_minute(stores: Stores) -> None:
    gap = RECEIPT_RESEND_SECONDS
    # Given a receipt text sent
    assert stores.attempts.take_receipt("r1", T0)
    # When it is asked again within the minute (a double tap), then after it, twice, then once more
    asked = [T0 + gap - 1, T0 + gap, T0 + 2 * gap, T0 + 3 * gap]
    # Then the double tap is refused, two more go, and the fourth of the day is refused
    assert [stores.attempts.take_receipt("r1", t) for t in asked] == [False, True, True, False]
    # And another registration is its own; a day after the first, the registration's count starts again
    assert stores.attempts.take_receipt("r2", T0 + gap)
    assert stores.attempts.take_receipt("r1", T0 + DAY_SECONDS)


# -- refused staff calls recorded one by one ----------------------------------------------------


def test_a_tokens_refused_calls_are_recorded_one_by_one_up_to_ten_a_minute(stores: Stores) -> None:
    minute = T0 // 60
    # When a token is refused more often than that in one minute
    answers = [stores.attempts.take_refused_audit("t1", minute) for _ in range(REFUSED_AUDIT_PER_MINUTE + 2)]
    # Then the first ten are taken, and the others are not
    assert answers == [True] * REFUSED_AUDIT_PER_MINUTE + [False, False]
    # And the next minute, and another token, are their own
    assert stores.attempts.take_refused_audit("t1", minute + 1)
    assert stores.attempts.take_refused_audit("t2", minute)


# -- phone verifications ------------------------------------------------------------------------


def phone_key(n: int) -> str:
    return f"{n:02x}" * 32


def test_a_phone_is_sent_a_code_a_minute_and_five_a_day(stores: Stores) -> None:
    key = phone_key(1)
    # Given a phone sent a code
    assert stores.verifications.start(key, PHONE, v.new_verification_id(key), T0) == 0
    # When another is asked for ten seconds later / Then it may go at the minute's end
    assert stores.verifications.start(key, PHONE, v.new_verification_id(key), T0 + 10) == RESEND_AFTER_SECONDS - 10
    # When it is sent a code a minute until it has had five / Then the sixth waits for the day's end
    sent = [stores.verifications.start(key, PHONE, v.new_verification_id(key), T0 + 60 * i) for i in range(1, 6)]
    assert sent == [0] * (CODES_PER_DAY - 1) + [DAY_SECONDS - 300]
    # And another phone is its own; a day after the first code, the phone starts again
    assert stores.verifications.start(phone_key(2), PHONE, v.new_verification_id(phone_key(2)), T0 + 10) == 0
    assert stores.verifications.start(key, PHONE, v.new_verification_id(key), T0 + DAY_SECONDS) == 0


def test_a_verification_is_spent_by_five_wrong_codes(stores: Stores) -> None:
    key = phone_key(3)
    vid = v.new_verification_id(key)
    stores.verifications.start(key, PHONE, vid, T0)
    # When it is tried with five wrong codes
    tries = [stores.verifications.settle(vid, False, T0 + i) for i in range(1, WRONG_CODES_ALLOWED + 1)]
    # Then each counts, and then even the right code finds it spent
    assert tries == [("wrong", None)] * WRONG_CODES_ALLOWED
    assert stores.verifications.settle(vid, True, T0 + 10) == ("spent", None)
    assert stores.verifications.entry(vid) == {"exp": T0 + CODE_TTL_SECONDS, "wrong": WRONG_CODES_ALLOWED}


def test_a_verification_records_its_wrong_codes_and_its_confirmation(stores: Stores) -> None:
    key = phone_key(4)
    vid = v.new_verification_id(key)
    stores.verifications.start(key, PHONE, vid, T0)
    # When a wrong code and then the right one are tried, and the right one again
    assert stores.verifications.settle(vid, False, T0 + 5) == ("wrong", None)
    assert stores.verifications.settle(vid, True, T0 + 9) == ("ok", PHONE)
    assert stores.verifications.settle(vid, True, T0 + 12) == ("ok", PHONE)
    # Then its record has the wrong one and the last confirmation, and it is still pending
    assert stores.verifications.entry(vid) == {"exp": T0 + CODE_TTL_SECONDS, "wrong": 1, "confirmed_at": T0 + 12}
    assert stores.verifications.pending(vid) == PendingVerification(phone=PHONE, code_expires=T0 + CODE_TTL_SECONDS)


def test_a_phones_verifications_dead_for_a_day_are_dropped_by_its_next_code(stores: Stores) -> None:
    key = phone_key(5)
    old, recent = v.new_verification_id(key), v.new_verification_id(key)
    # Given a verification whose code expired over a day ago, and one still kept
    stores.verifications.start(key, PHONE, old, T0)
    stores.verifications.start(key, PHONE, recent, T0 + DAY_SECONDS)
    # When the phone is sent another code, once the first is dead for longer than it is kept
    now = T0 + CODE_TTL_SECONDS + VERIFICATION_KEEP_SECONDS + 1
    newest = v.new_verification_id(key)
    assert stores.verifications.start(key, PHONE, newest, now) == 0
    # Then the dead one is unknown; the others remain
    assert stores.verifications.pending_many([old, recent, newest]) == {
        old: None,
        recent: PendingVerification(phone=PHONE, code_expires=T0 + DAY_SECONDS + CODE_TTL_SECONDS),
        newest: PendingVerification(phone=PHONE, code_expires=now + CODE_TTL_SECONDS),
    }
    assert stores.verifications.settle(old, True, now) == ("unknown", None)
