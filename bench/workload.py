"""The campaign's attempts: new people in households sharing phones, repeats, invalid bodies."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

from bench.people import body

INVALID_SHARE = 0.03
UNDERAGE_SHARE = 0.01
REPEAT_SHARE = 0.05


@dataclass(frozen=True)
class Plan:
    attempts: int
    primary: int
    reserve: int
    clients: int
    seed: int = 7
    # Through the waiting room (contract v1.2), or all at once as in v1.1 (``BENCH_WAITING_ROOM=off``).
    waiting_room: bool = True

    @staticmethod
    def of_size(attempts: int, clients: int, waiting_room: bool = True) -> Plan:
        """The campaign's proportions at any size: half the attempts find a place, a tenth the reserve."""
        return Plan(
            attempts=attempts,
            primary=attempts // 2,
            reserve=attempts // 10,
            clients=clients,
            waiting_room=waiting_room,
        )


@dataclass(frozen=True)
class Attempt:
    payload: bytes
    kind: str  # "new", "repeat", "invalid", "underage"
    phone: str | None = None  # verified before the burst (None: an invalid body, refused before it matters)


# People share phones as households do: 1 to 4 people a phone (the contract's limit of active app
# registrations per phone is 4, and the bench must never reach past it), 2.5 on average.
HOUSEHOLD_SIZES = {1: 0.15, 2: 0.35, 3: 0.35, 4: 0.15}


def _household_phone(n: int) -> str:
    """Household n's phone: 08 and 8 digits of n."""
    return f"08{n % 10**8:08d}"


class _Households:
    """Hands out phones: each new household's size drawn from ``HOUSEHOLD_SIZES``, its members in a row."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # apart from the mix's: the attempts stay those of any run
        self._sizes, self._weights = zip(*HOUSEHOLD_SIZES.items(), strict=True)
        self.count = 0
        self._room = 0

    def phone(self) -> str:
        if self._room == 0:
            self.count += 1
            self._room = self._rng.choices(self._sizes, self._weights)[0]
        self._room -= 1
        return _household_phone(self.count)


def _invalid(rng: random.Random, n: int) -> bytes:
    """A body the contract rejects with 400: a sample of the mistakes apps and people make."""
    good = body(n)
    choice = rng.randrange(6)
    if choice == 0:
        good["national_id"] = good["national_id"][:-1] + str((int(good["national_id"][-1]) + 1) % 10)
    elif choice == 1:
        good["consent"] = False
    elif choice == 2:
        good["phone"] = "0212345678"
    elif choice == 3:
        good["eligibility"] = {"basis": "tourist", "detail": "x"}
    elif choice == 4:
        good["nickname"] = "unknown field"
    else:
        return b'{"national_id": "1101700230708", '  # cut off mid-body
    return json.dumps(good, ensure_ascii=False).encode()


def workload(plan: Plan) -> list[Attempt]:
    """The attempts in arrival order: new people, repeats of people already sent, invalid bodies."""
    rng = random.Random(plan.seed)
    households = _Households(plan.seed + 1)
    out: list[Attempt] = []
    sent: list[Attempt] = []
    person = 0
    for _ in range(plan.attempts):
        roll = rng.random()
        if roll < INVALID_SHARE:
            out.append(Attempt(_invalid(rng, 50_000_000 + len(out)), "invalid"))
        elif roll < INVALID_SHARE + UNDERAGE_SHARE:
            n = 60_000_000 + len(out)
            minor = body(n, birth_date=f"{time.gmtime().tm_year - 10}-01-01", phone=households.phone())
            out.append(Attempt(json.dumps(minor, ensure_ascii=False).encode(), "underage", minor["phone"]))
        elif roll < INVALID_SHARE + UNDERAGE_SHARE + REPEAT_SHARE and sent:
            earlier = rng.choice(sent)
            out.append(Attempt(earlier.payload, "repeat", earlier.phone))
        else:
            data = body(person, phone=households.phone())
            attempt = Attempt(json.dumps(data, ensure_ascii=False).encode(), "new", data["phone"])
            person += 1
            sent.append(attempt)
            out.append(attempt)
    return out


def with_tokens(attempts: list[Attempt], tokens: dict[str, str]) -> list[Attempt]:
    """Each body with its phone's verification token (the same person's repeats stay identical)."""
    out = []
    for a in attempts:
        if a.phone is None:
            out.append(a)
            continue
        data = json.loads(a.payload)
        data["verification_token"] = tokens.get(a.phone, "not verified")
        out.append(Attempt(json.dumps(data, ensure_ascii=False).encode(), a.kind, a.phone))
    return out


@dataclass(frozen=True)
class Household:
    """One phone and the attempts made from it (indices into the attempts, in arrival order)."""

    phone: str
    attempts: tuple[int, ...]


def households(attempts: list[Attempt]) -> list[Household]:
    """The attempts grouped by phone, households in the order of their first attempt.

    An invalid body carries no phone: it goes with the household whose attempt came just before it
    (a person mistyping on the household's page), or with the first household when none came before
    (with no phone at all there is no household to send them). A household holds at most 4 people
    (``HOUSEHOLD_SIZES``, the contract's ``PHONE_REGISTRATION_LIMIT``).
    """
    order: dict[str, list[int]] = {}
    orphans: list[int] = []
    last: str | None = None
    for i, a in enumerate(attempts):
        phone = a.phone if a.phone is not None else last
        if phone is None:
            orphans.append(i)
            continue
        order.setdefault(phone, []).extend([*orphans, i] if orphans else [i])
        orphans = []
        last = phone
    return [Household(phone, tuple(idx)) for phone, idx in order.items()]


def admitted_body(payload: bytes, verification_token: str, admission_token: str | None) -> bytes:
    """The body a household's page sends once admitted: the attempt with the phone's verification
    token (unless it has one) and the admission token. A body that is not a JSON object (cut off
    mid-body) goes as it is: the page cannot add to it, and the service refuses it (400) first."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(data, dict):
        return payload
    data.setdefault("verification_token", verification_token)
    if admission_token is not None:
        data["admission_token"] = admission_token
    return json.dumps(data, ensure_ascii=False).encode()
