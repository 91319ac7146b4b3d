"""The person's data: consent records, access, erasure and retention (services.person_data,
services.retention, domain.retention), and what the jobs do with an erased registration."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain import retention as rules_of_retention
from chalicelib.domain.consent import CONSENT_VERSION
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.errors import MedicalRecordKept, NotFound
from chalicelib.domain.models import Channel, Registration, Status
from chalicelib.domain.rules import today_in_bangkok
from chalicelib.domain.schedule import Schedule, Site
from chalicelib.domain.staff import AuditEntry, Role
from chalicelib.services import cancellations, lookups, person_data, registrations, retention
from chalicelib.services.staff import registration_target
from tests.helpers import national_id
from tests.unit.fakes import FakeRegistry, FakeStores
from tests.unit.steps import BIRTH, register, release_all, request
from tests.unit.test_remove import sweep_list

DAY = date(2026, 8, 1)
PERSONAL = ("national_id", "first_name", "last_name", "phone", "detail")


def stored(st: FakeStores, code: str) -> Registration:
    reg = st.registrations.get(code)
    assert reg is not None
    return reg


def given_a_dose(st: FakeStores, code: str) -> Registration:
    """Dose 1 given today (as a check-in writes it)."""
    done = Visit(dose=1, date=DAY, site="Hall", status=VisitStatus.DONE, given_on=DAY)
    return st.registrations.set_visits(stored(st, code), [done])


# -- consent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
def test_every_registration_records_the_consent_of_its_channel(campaign: Any, channel: Channel) -> None:
    # Given a campaign / When a person registers on a channel
    st = campaign()
    view = register(1, channel)
    # Then the registration keeps this version, when, and who confirmed it; the resource shows it
    consent = stored(st, view.registration_id).consent
    assert consent is not None and (consent.version, consent.channel) == (CONSENT_VERSION, channel)
    assert view.consent is not None and view.consent.version == CONSENT_VERSION and view.consent.channel is channel


def test_a_registration_without_a_consent_record_reads_unrecorded(campaign: Any) -> None:
    st = campaign()
    code = register(1).registration_id
    st.registrations.regs[code] = stored(st, code).model_copy(update={"consent": None})
    consent = lookups.get(code).consent
    assert consent is not None and consent.version == "unrecorded" and consent.channel is Channel.APP


def test_the_consent_text_names_the_data_protection_officer_when_one_is_set(campaign: Any) -> None:
    campaign(DPO_CONTACT="dpo@example.go.th")
    text = person_data.consent()
    assert (text.version, text.dpo_contact) == (CONSENT_VERSION, "dpo@example.go.th")
    assert text.text_th and text.text_en
    campaign(DPO_CONTACT="")
    assert person_data.consent().dpo_contact is None


# -- access -----------------------------------------------------------------------------------------


def test_the_data_answer_holds_the_persons_fields_removals_appointments_and_audit_entries(campaign: Any) -> None:
    # Given a registration with an appointment and an audit entry about it
    st = campaign()
    code = registrations.register(request(1), Channel.COUNTER, "desk 1").registration_id
    given_a_dose(st, code)
    st.staff.record(
        "2026-08-01",
        AuditEntry(
            at=datetime(2026, 8, 1, 3, tzinfo=UTC),
            token_id="t1",
            role=Role.SITE,
            label="site 1",
            action="site.check_in",
            status=200,
            target=registration_target(code),
        ),
    )
    # When the person asks for it
    data = person_data.data(code, BIRTH)
    # Then it holds what the registration holds
    assert (data.national_id, data.birth_date, data.channel, data.label) == (
        national_id(1),
        date.fromisoformat(BIRTH),
        Channel.COUNTER,
        "desk 1",
    )
    assert data.removals == {"mor_phrom": "pending", "khon_kaen_phrom": "pending"}
    assert [(a.dose, a.status, a.given_on) for a in data.appointments] == [(1, VisitStatus.DONE, DAY)]
    assert [(e.action, e.label) for e in data.audit] == [("site.check_in", "site 1")]
    assert data.consent.channel is Channel.COUNTER


def test_the_data_of_a_wrong_birth_date_or_an_erased_registration_is_not_found(campaign: Any) -> None:
    campaign()
    code = register(1).registration_id
    with pytest.raises(NotFound):
        person_data.data(code, "1980-02-01")
    person_data.erase(code, BIRTH)
    with pytest.raises(NotFound):
        person_data.data(code, BIRTH)


# -- erasure ----------------------------------------------------------------------------------------


def test_erasing_a_confirmed_registration_cancels_it_hands_its_place_on_and_removes_the_fields(
    campaign: Any,
) -> None:
    # Given one place, taken, and one person on the reserve
    st = campaign(primary=1, reserve=1)
    x = register(1)
    y = register(2)
    # When the confirmed person erases their data
    answer = person_data.erase(x.registration_id, BIRTH)
    release_all(st)
    # Then it is cancelled and erased; status, channel, dates stay; the place went to the reserve
    assert answer.status is Status.CANCELLED
    gone = stored(st, x.registration_id)
    assert gone.erased and all(getattr(gone, f) == "" for f in PERSONAL) and gone.birth_date is None
    assert gone.channel is Channel.APP and gone.registered_at.strftime("%Y-%m-%dT%H:%M:%SZ") == x.registered_at
    assert stored(st, y.registration_id).status is Status.CONFIRMED
    assert st.statistics.stats()["status_cancelled"] == 1


def test_erasing_a_reserve_registration_moves_the_ranks_behind_up(campaign: Any) -> None:
    campaign(primary=1, reserve=2)
    register(1)
    y = register(2)
    z = register(3)
    person_data.erase(y.registration_id, BIRTH)
    assert lookups.get(z.registration_id).reserve_rank == 1


def test_erasing_after_a_dose_is_refused_and_changes_nothing(campaign: Any) -> None:
    # Given a person whose first dose was given
    st = campaign()
    code = register(1).registration_id
    before = given_a_dose(st, code)
    # When they ask for erasure / Then it is refused: the registration holds a medical record
    with pytest.raises(MedicalRecordKept):
        person_data.erase(code, BIRTH)
    assert stored(st, code) == before and st.promotions.sent == []


def test_a_dose_given_between_the_read_and_the_cancel_stops_the_erasure_before_anything_changes(
    campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a confirmed person checked in at the very moment their erasure reads the registration
    st = campaign()
    code = register(1).registration_id
    real_cancel = st.registrations.cancel
    checked_in: list[Registration] = []

    def check_in_first(reg: Registration, now: datetime, unchanged_visits: bool = False) -> Registration:
        if not checked_in:
            checked_in.append(given_a_dose(st, code))
        return real_cancel(reg, now, unchanged_visits)

    monkeypatch.setattr(st.registrations, "cancel", check_in_first)
    # When the erasure goes on / Then it is refused, and the registration is as the check-in left it
    with pytest.raises(MedicalRecordKept):
        person_data.erase(code, BIRTH)
    assert stored(st, code) == checked_in[0] and stored(st, code).status is Status.CONFIRMED


def test_an_erasure_asked_again_answers_as_the_first_did(campaign: Any) -> None:
    campaign()
    code = register(1).registration_id
    first = person_data.erase(code, BIRTH)
    assert person_data.erase(code, BIRTH) == first
    with pytest.raises(NotFound):
        person_data.erase(code.replace(code[-4:], "AAAA"), BIRTH)


def test_an_erased_person_is_not_found_by_lookup_cancel_or_the_counter(campaign: Any) -> None:
    from chalicelib.domain.models import LookupRequest
    from chalicelib.services import reclaims

    # Given one person who erased their data, and one erased by retention (still confirmed)
    st = campaign()
    code = register(1).registration_id
    person_data.erase(code, BIRTH)
    kept = register(2).registration_id
    st.registrations.erase(stored(st, kept), datetime.now(UTC))
    # Then neither is found by their national ID and birth date, by their code, or at a counter
    for n, each in ((1, code), (2, kept)):
        with pytest.raises(NotFound):
            lookups.lookup(LookupRequest(national_id=national_id(n), birth_date=BIRTH))
        with pytest.raises(NotFound):
            cancellations.cancel(each, BIRTH)
    with pytest.raises(NotFound):
        reclaims.cancel(national_id(2))
    with pytest.raises(NotFound):
        reclaims.reclaim(request(2), "desk 1")
    assert stored(st, kept).status is Status.CONFIRMED and stored(st, kept).erased


def test_an_erased_persons_open_removal_settles_not_needed_without_asking_the_registries(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given a confirmed person erased before the removal sweep reached them
    st = campaign()
    code = register(1).registration_id
    person_data.erase(code, BIRTH)
    # When the sweep runs
    sweep_list(code)
    # Then nobody was asked, and both removals are settled as not needed, and counted
    assert registries["mor_phrom"].calls == 0 and registries["khon_kaen_phrom"].calls == 0
    assert stored(st, code).removals == {"mor_phrom": "not_needed", "khon_kaen_phrom": "not_needed"}
    assert code not in st.registrations.removal_due
    stats = st.statistics.stats()
    assert stats["removal_mor_phrom_not_needed"] == 1 and stats.get("removal_mor_phrom_pending", 0) == 0
    assert (stats["status_confirmed"], stats["status_cancelled"]) == (0, 1)


# -- retention --------------------------------------------------------------------------------------


def test_the_campaigns_last_day_is_the_setting_else_the_schedules_last_dose() -> None:
    plan = Schedule(date(2026, 8, 1), (Site("Hall", 10),), frozenset())
    assert rules_of_retention.campaign_last_day(plan, 30, 2, 28, date(2026, 9, 30)) == date(2026, 9, 30)
    # 30 places at 10 a day: dose 1 of the last on day 3 (or later, as dose 2s take their share), dose 2 28 days on
    estimate = rules_of_retention.campaign_last_day(plan, 30, 2, 28, None)
    assert date(2026, 8, 31) <= estimate <= date(2026, 10, 31)


def test_a_registration_is_due_retention_days_after_the_later_of_the_campaigns_last_day_and_its_own(
    campaign: Any,
) -> None:
    st = campaign()
    reg = stored(st, register(1).registration_id)
    last = today_in_bangkok(reg.registered_at)  # the registration's own day, as the rules count days
    assert rules_of_retention.erase_on(reg, last, 30) == last + timedelta(days=30)
    later = reg.model_copy(
        update={"visits": [Visit(dose=2, date=last + timedelta(days=40), site="H", status=VisitStatus.BOOKED)]}
    )
    assert rules_of_retention.erase_on(later, last, 30) == last + timedelta(days=70)
    assert not rules_of_retention.due(reg, last + timedelta(days=29), last, 30)
    assert rules_of_retention.due(reg, last + timedelta(days=30), last, 30)
    assert not rules_of_retention.due(
        reg.model_copy(update={"erased_at": reg.registered_at}), last + timedelta(days=99), last, 30
    )


def test_the_retention_job_reads_nothing_before_anything_is_due_and_erases_exactly_the_due_ones(
    campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the campaign's last day today, kept 30 days; three people, one with a dose given 40 days on
    today = today_in_bangkok()  # the campaign's days are Bangkok's (after 17:00 UTC, tomorrow's UTC date)
    st = campaign(primary=3, VACCINATION_LAST_DAY=today.isoformat(), RETENTION_DAYS="30")
    codes = [register(n).registration_id for n in range(3)]
    late = Visit(
        dose=1,
        date=today + timedelta(days=40),
        site="Hall",
        status=VisitStatus.DONE,
        given_on=today + timedelta(days=40),
    )
    st.registrations.set_visits(stored(st, codes[0]), [late])
    # When the job runs on day 29 / Then it queues nothing
    assert retention.start(today + timedelta(days=29)) == 0 and st.reconcile_jobs.sent == []
    # When it runs on day 30 and its segments run (twice: a second run changes nothing)
    assert retention.start(today + timedelta(days=30)) == retention.SEGMENTS
    erased = [retention.segment(s, None, None, today + timedelta(days=30)) for s in range(retention.SEGMENTS)]
    again = [retention.segment(s, None, None, today + timedelta(days=30)) for s in range(retention.SEGMENTS)]
    # Then the two without a later dose are erased (kept confirmed, as counted), the third is kept
    assert (sum(erased), sum(again)) == (2, 0)
    assert [stored(st, c).erased for c in codes] == [False, True, True]
    assert all(stored(st, c).status is Status.CONFIRMED for c in codes)
