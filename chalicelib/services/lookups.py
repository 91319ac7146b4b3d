"""Reading a registration: by its receipt code, or by the person's national ID and birth date."""

from __future__ import annotations

from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import NotFound
from chalicelib.domain.expected import expected_date
from chalicelib.domain.models import LookupRequest, Registration, RegistrationView, Status
from chalicelib.store.factory import stores


def view(reg: Registration) -> RegistrationView:
    """The registration as answered: its reserve rank read (on the reserve), its expected day."""
    rank = stores().reserve.rank(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
    return RegistrationView.of(reg, rank, expected_date(reg, rank, get_settings(), rules.today_in_bangkok()))


def get(registration_id: str) -> RegistrationView:
    """Raises NotFound."""
    reg = stores().registrations.get(registration_id)
    if reg is None:
        raise NotFound()
    return view(reg)


def lookup(req: LookupRequest) -> RegistrationView:
    """The person's active registration, else their latest. Raises NotFound (also for a wrong birth date)."""
    found = stores().registrations.current(rules.person_pointer(req.national_id, hmac_key()))
    if found is None or not rules.same_secret(found[0].birth_date.isoformat(), req.birth_date):
        raise NotFound()
    return view(found[0])
