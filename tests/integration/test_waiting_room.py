"""The waiting room over HTTP (contract v1.2): joining, tickets, the shared line and its caching, the
admission a registration needs, the admin's figures and pace, bad input; on the moto engine."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.caches import reset_caches
from chalicelib.services.waiting_room import admission, sequencer, tickets
from chalicelib.services.waiting_room import line as waiting_line
from tests.helpers import Clock, body
from tests.integration.test_public_api import assert_envelope, post

pytestmark = pytest.mark.usefixtures("waiting_room_on", "verification_required")

PHONE = "0812345678"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock(math.floor(time.time()))
    monkeypatch.setattr(waiting_line, "clock", found)
    return found


@pytest.fixture
def opening(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> float:
    """The opening 10 minutes from the clock's start, 60 admitted a minute."""
    opens = clock.now + 600
    monkeypatch.setenv("REGISTRATION_OPENS_AT", datetime.fromtimestamp(opens, UTC).isoformat())
    monkeypatch.setenv("ADMIT_PER_MINUTE", "60")
    reset_caches()
    return opens


def token_for(phone: str) -> str:
    from chalicelib.config import verification_keys
    from chalicelib.domain import verification as v

    return v.sign_token(phone, int(time.time()) + 86_400, verification_keys())


def join(client: Any, phone: str = PHONE) -> Any:
    return post(client, "/v1/queue", {"verification_token": token_for(phone)})


def sequenced(clock: Clock, to: float) -> None:
    """The sequencer's rounds as the schedule runs them, up to ``to``."""
    while clock.now < to:
        clock.passes(1)
        sequencer.sequence_once()


def admitted(client: Any, clock: Clock, ticket: str) -> dict[str, Any]:
    """The ticket once serving has reached it."""
    for _ in range(120):
        got = client.http.get(f"/v1/queue/{ticket}").json_body
        if got["status"] == "admitted":
            return dict(got)
        sequenced(clock, clock.now + 1)
    raise AssertionError(got)


def test_joining_gives_one_ticket_per_phone_and_its_place_once_sequenced(
    client: Any, opening: float, clock: Clock
) -> None:
    # Given the pre-queue open
    # When a phone joins, then joins again with another token for the same phone
    first = join(client)
    again = join(client)
    # Then 201 then 200, the same ticket, waiting, no position before the opening
    assert (first.status_code, again.status_code) == (201, 200), first.body
    assert first.json_body["ticket"] == again.json_body["ticket"]
    assert first.json_body | {"estimated_wait_s": None, "poll_after_s": None} == {
        "ticket": first.json_body["ticket"],
        "status": "waiting",
        "position": None,
        "ahead": None,
        "estimated_wait_s": None,
        "poll_after_s": None,
        "opens_at": datetime.fromtimestamp(opening, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "admission_token": None,
        "admitted_until": None,
    }
    # When the line opens / Then position 1, and the line's figures
    clock.now = opening
    sequenced(clock, opening + 3)
    ticket = client.http.get(f"/v1/queue/{first.json_body['ticket']}")
    assert ticket.status_code == 200 and ticket.json_body["position"] == 1
    line = client.http.get("/v1/queue")
    assert line.json_body["status"] == "open" and line.json_body["admit_per_minute"] == 60
    assert line.json_body["serving"] == 1 and line.json_body["waiting"] == 0


def test_the_shared_line_is_cacheable_and_everything_else_is_not(client: Any, opening: float) -> None:
    line = client.http.get("/v1/queue")
    assert line.status_code == 200, line.body
    assert line.headers["Cache-Control"] == f"public, max-age={tickets.PUBLIC_MAX_AGE}"
    assert line.json_body | {"opens_at": None} == {
        "status": "open",
        "opens_at": None,
        "serving": 0,
        "waiting": 0,
        "admit_per_minute": 60,
    }
    assert join(client).headers["Cache-Control"] == "no-store"
    assert client.http.get("/v1/campaign").headers["Cache-Control"] == "no-store"


def test_a_registration_needs_its_phones_admission(client: Any, opening: float, clock: Clock) -> None:
    # Given a phone in line and another phone's admission
    ticket = join(client).json_body["ticket"]
    other = join(client, "0898765432").json_body["ticket"]
    clock.now = opening
    grant = admitted(client, clock, ticket)
    other_grant = admitted(client, clock, other)
    person = {**body(1), "verification_token": token_for(PHONE)}
    # When it registers without an admission, with a forged, another phone's, or a malformed one: 403
    forged = grant["admission_token"][:-3] + "AAA"
    for bad in (None, "", "x", forged, other_grant["admission_token"]):
        extra = {} if bad is None else {"admission_token": bad}
        assert_envelope(post(client, "/v1/registrations", {**person, **extra}), 403, "admission_required")
    # And nothing was registered
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 50_000
    # When with its own: 201, and its household on the same admission
    made = post(client, "/v1/registrations", {**person, "admission_token": grant["admission_token"]})
    assert made.status_code == 201, made.body
    second = {**body(2), "verification_token": token_for(PHONE), "admission_token": grant["admission_token"]}
    assert post(client, "/v1/registrations", second).status_code == 201
    # When the admission has expired: 403, and it is not given back (the ticket says expired)
    until = datetime.fromisoformat(grant["admitted_until"].replace("Z", "+00:00")).timestamp()
    clock.now = until
    third = {**body(3), "verification_token": token_for(PHONE), "admission_token": grant["admission_token"]}
    assert_envelope(post(client, "/v1/registrations", third), 403, "admission_required")
    assert client.http.get(f"/v1/queue/{ticket}").json_body["status"] == "expired"
    again = join(client)
    assert (again.status_code, again.json_body["ticket"], again.json_body["status"]) == (200, ticket, "expired")


def test_a_bad_verification_token_is_422_and_a_bad_body_400(client: Any, opening: float) -> None:
    from chalicelib.domain import verification as v

    forged = v.sign_token(PHONE, int(time.time()) + 3600, v.Keys.derive(b"not the service's key"))
    for bad in ({}, {"verification_token": None}, {"verification_token": "x"}, {"verification_token": forged}):
        assert_envelope(post(client, "/v1/queue", bad), 422, "phone_not_verified")
    for bad_body in ([], 5, "x", {"verification_token": token_for(PHONE), "extra": 1}, {"verification_token": 7}):
        err = assert_envelope(post(client, "/v1/queue", bad_body), 400, "validation_error")
        assert err["fields"]
    resp = client.http.post("/v1/queue", body=b"{not json", headers={"Content-Type": "application/json"})
    assert_envelope(resp, 400, "validation_error")
    resp = client.http.post("/v1/queue", body=b"{}", headers={"Content-Type": "text/plain"})
    assert_envelope(resp, 415, "unsupported_media_type")


def test_with_verification_off_the_body_is_the_phone(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_VERIFICATION", "off")
    reset_caches()
    made = post(client, "/v1/queue", {"phone": "+66 81 234 5678"})
    assert made.status_code == 201, made.body
    assert post(client, "/v1/queue", {"phone": PHONE}).json_body["ticket"] == made.json_body["ticket"]
    err = assert_envelope(post(client, "/v1/queue", {}), 400, "validation_error")
    assert err["fields"] == ["phone"]
    assert_envelope(post(client, "/v1/queue", {"phone": "12345"}), 400, "validation_error")


def test_unknown_tickets_are_404_without_a_read(client: Any, opening: float) -> None:
    made = join(client).json_body["ticket"]
    for path in ("q_" + "A" * 35, "q_x", made[:-1] + ("A" if made[-1] != "A" else "B"), "nothing", made + "A"):
        assert_envelope(client.http.get(f"/v1/queue/{path}"), 404, "not_found")


def test_joining_before_the_queue_opens_is_409(client: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    opens = clock.now + 3600
    monkeypatch.setenv("REGISTRATION_OPENS_AT", datetime.fromtimestamp(opens, UTC).isoformat())
    monkeypatch.setenv("QUEUE_OPENS_MINUTES_BEFORE", "30")
    reset_caches()
    assert_envelope(join(client), 409, "queue_not_open")
    assert client.http.get("/v1/queue").json_body["status"] == "not_open"
    clock.now = opens - 1800
    assert join(client).status_code == 201


def test_a_full_line_refuses_joins_and_says_so(
    client: Any, campaign_env: Any, opening: float, clock: Clock, tokens: dict[str, str]
) -> None:
    # Given one place and no reserve, a phone admitted, and another waiting behind it (the line paused)
    campaign_env(primary=1, reserve=0)
    first = join(client).json_body["ticket"]
    clock.now = opening
    grant = admitted(client, clock, first)
    admission.set_rate(0)
    second = join(client, "0898765432").json_body["ticket"]
    sequenced(clock, clock.now + 3)
    assert client.http.get(f"/v1/queue/{second}").json_body["status"] == "waiting"
    # When the first takes the last place, and someone else is refused for want of one
    person = {**body(1), "verification_token": token_for(PHONE), "admission_token": grant["admission_token"]}
    assert post(client, "/v1/registrations", person).status_code == 201
    refused = {**body(2), "verification_token": token_for(PHONE), "admission_token": grant["admission_token"]}
    assert_envelope(post(client, "/v1/registrations", refused), 409, "registration_full")
    waiting_line.forget()
    # Then the line is full: the waiting ticket says so, and joining is 409 registration_full
    assert client.http.get("/v1/queue").json_body["status"] == "full"
    assert client.http.get(f"/v1/queue/{second}").json_body["status"] == "full"
    assert_envelope(join(client, "0611111111"), 409, "registration_full")


def test_the_admin_sees_the_line_and_sets_its_pace_in_the_audit_trail(
    client: Any, opening: float, clock: Clock, tokens: dict[str, str]
) -> None:
    from chalicelib.domain import rules

    admin = {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "application/json"}
    for n in range(5):
        join(client, f"08{n:08d}")
    clock.now = opening
    sequenced(clock, opening + 3)
    got = client.http.get("/v1/admin/queue", headers=admin)
    assert got.status_code == 200, got.body
    figures = got.json_body
    assert (figures["joined"], figures["status"], figures["admit_per_minute"]) == (5, "open", 60)
    assert figures["admitted"] + figures["waiting"] == 5 and figures["admitted"] == figures["serving"]
    changed = client.http.put("/v1/admin/queue", body=json.dumps({"admit_per_minute": 600}), headers=admin)
    assert changed.status_code == 200 and changed.json_body["admit_per_minute"] == 600
    for bad in ({"admit_per_minute": -1}, {"admit_per_minute": "5"}, {}, {"admit_per_minute": 5, "x": 1}):
        resp = client.http.put("/v1/admin/queue", body=json.dumps(bad), headers=admin)
        assert_envelope(resp, 400, "validation_error")
    counter = {**admin, "Authorization": f"Bearer {tokens['counter']}"}
    assert_envelope(client.http.get("/v1/admin/queue", headers=counter), 403, "forbidden")
    day = rules.today_in_bangkok().isoformat()
    log = client.http.get(f"/v1/admin/audit?date={day}", headers=admin).json_body["entries"]
    assert [e["action"] for e in log if e["action"].startswith("admin.queue")][:3] == [
        "admin.queue.read",
        "admin.queue.set",
        "admin.queue.set",
    ]


def test_with_the_waiting_room_off_the_app_channel_is_v1_1(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAITING_ROOM", "off")
    reset_caches()
    assert_envelope(join(client), 404, "not_found")
    assert_envelope(client.http.get("/v1/queue"), 404, "not_found")
    made = post(client, "/v1/registrations", {**body(1), "verification_token": token_for(PHONE)})
    assert made.status_code == 201, made.body


def test_the_ticket_read_is_one_aws_read_and_the_shared_line_cached(
    client: Any, opening: float, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_verifications import _counting

    ticket = join(client).json_body["ticket"]
    clock.now = opening
    sequenced(clock, opening + 3)
    client.http.get("/v1/queue")  # the state is in this container's cache for a second
    calls = _counting(monkeypatch)
    assert client.http.get(f"/v1/queue/{ticket}").json_body["position"] == 1
    assert calls == ["GetItem"]
    calls.clear()
    for _ in range(5):
        client.http.get("/v1/queue")
    assert calls == []
    # A join again: its refused put; its bucket, committed, is the one this container read already
    join(client)
    assert calls == ["PutItem"]
    # And a committed bucket is read once a container: the ticket read again costs nothing
    calls.clear()
    assert client.http.get(f"/v1/queue/{ticket}").json_body["position"] == 1
    assert calls == []
