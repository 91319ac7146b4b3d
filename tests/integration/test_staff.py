"""Staff channels: tokens and roles, counters, employer batches, channel control, admin views."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from chalicelib.api.pages import PAGE_ROUTES
from chalicelib.domain.models import Channel
from tests.helpers import body, raising

ROLES = ("counter", "org", "site", "admin")
# route -> roles allowed (admin may do everything)
STAFF_ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/counter/registrations", {"counter", "admin"}),
    ("POST", "/v1/counter/reclaims", {"counter", "admin"}),
    ("POST", "/v1/counter/cancellations", {"counter", "admin"}),
    ("POST", "/v1/org/batches", {"org", "admin"}),
    ("POST", "/v1/site/check-ins", {"site", "admin"}),
    ("POST", "/v1/admin/days/2020-01-01/close", {"admin"}),
    ("GET", "/v1/org/batches/b_x", {"org", "admin"}),
    ("GET", "/v1/admin/summary", {"admin"}),
    ("PUT", "/v1/admin/channels/app", {"admin"}),
    ("GET", "/v1/admin/registrations.csv", {"admin"}),
    ("GET", "/v1/admin/audit?date=2026-07-06", {"admin"}),
    ("POST", "/v1/admin/reconcile", {"admin"}),
    ("GET", "/v1/admin/reconcile/rc_x", {"admin"}),
    ("GET", "/v1/admin/reports/daily?date=2026-07-06", {"admin"}),
    ("POST", "/v1/admin/appointments/allocate", {"admin"}),
    ("GET", "/v1/admin/appointments.csv?date=2026-07-06", {"admin"}),
    ("GET", "/v1/admin/queue", {"admin"}),
    ("PUT", "/v1/admin/queue", {"admin"}),
]


def call(client: Any, method: str, path: str, token: str | None, data: Any = None, **headers: str) -> Any:
    hdrs = {"Content-Type": "application/json", **headers}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}" if not token.startswith("RAW:") else token[4:]
    raw = None
    if data is not None:
        raw = data if isinstance(data, str | bytes) else json.dumps(data, ensure_ascii=False)
    return getattr(client.http, method.lower())(path, headers=hdrs, body=raw)


def sample_body(method: str, path: str, n: int) -> Any:
    if path.startswith("/v1/counter"):
        return body(n)
    if path == "/v1/org/batches":
        return {"organisation": "ACME", "rows": [body(n)]}
    if path.startswith("/v1/admin/channels"):
        return {"open": True}
    if path.startswith("/v1/site"):
        return {"registration_id": "r_unknownunknownunknown"}
    return None


def code(resp: Any) -> str | None:
    return resp.json_body["error"]["code"] if resp.status_code >= 400 else None


# Public routes: no token needed, and a token of any role changes nothing.
PUBLIC_ROUTES: list[tuple[str, str]] = [
    ("GET", "/v1/health"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/campaign"),
    ("POST", "/v1/registrations"),
    ("GET", "/v1/registrations/r_x"),
    ("POST", "/v1/registrations/lookup"),
    ("POST", "/v1/registrations/r_x/cancel"),
    ("POST", "/v1/registrations/receipt"),
    ("POST", "/v1/verifications"),
    ("POST", "/v1/verifications/v_x/confirm"),
    ("POST", "/v1/queue"),
    ("GET", "/v1/queue"),
    ("GET", "/v1/queue/q_x"),
    # The web pages (they call the API with the token the person types)
    *(("GET", path.replace("{name}", "style.css")) for path in PAGE_ROUTES),
]


def route_of(path: str) -> str:
    """The app's route pattern of a sample path of the matrix."""
    return (
        path.split("?")[0]
        .replace("b_x", "{batch_id}")
        .replace("/channels/app", "/channels/{channel}")
        .replace("rc_x", "{run_id}")
        .replace("q_x", "{ticket}")
        .replace("r_x", "{registration_id}")
        .replace("v_x", "{verification_id}")
        .replace("style.css", "{name}")
        .replace("/days/2020-01-01/", "/days/{date}/")
    )


def test_the_matrix_names_every_route_and_method_of_the_app(app: Any) -> None:
    # Given every (method, route) the Chalice app serves
    served = {(method, path) for path, methods in app.routes.items() for method in methods}
    # Then each is in the matrix exactly once, as staff (with its roles) or public: a new route
    # fails here until it is given its place
    staff = [(m, route_of(p)) for m, p, _ in STAFF_ROUTES]
    public = [(m, route_of(p)) for m, p in PUBLIC_ROUTES]
    assert len(set(staff + public)) == len(staff + public)
    assert set(staff) | set(public) == served
    assert all(p.startswith(("/v1/counter", "/v1/org", "/v1/site", "/v1/admin")) for _, p in staff)


def test_every_route_behind_the_authorizer_checks_its_caller_in_the_view(app: Any) -> None:
    # The authorizer lets an unverified caller through when the token table is throttled (it can
    # only deny or fail), and staff_view answers 429: a route without it would run unverified.
    guarded = [e for methods in app.routes.values() for e in methods.values() if e.authorizer is not None]
    assert len(guarded) == len(STAFF_ROUTES)
    assert all(getattr(e.view_function, "checks_staff", False) for e in guarded), [
        e.view_name for e in guarded if not getattr(e.view_function, "checks_staff", False)
    ]


def test_public_routes_need_no_token_and_ignore_any(client: Any, tokens: dict[str, str]) -> None:
    for method, path in PUBLIC_ROUTES:
        for token in (None, "not a token", tokens["revoked"], tokens["counter"], tokens["admin"]):
            data = {"birth_date": "1980-01-31"} if method == "POST" else None
            resp = call(client, method, path, token, data)
            assert resp.status_code not in (401, 403), (method, path, token, resp.body)


def test_the_role_by_route_matrix(client: Any, tokens: dict[str, str], app: Any) -> None:
    n = 100
    for method, path, allowed in STAFF_ROUTES:
        for who in ("none", "malformed", "wrong-scheme", "unknown", "revoked", *ROLES):
            n += 1
            token = {
                "none": None,
                "malformed": "not a token",
                "wrong-scheme": "RAW:Basic dXNlcjpwYXNz",
                "unknown": "kkt_" + "A" * 43,
                "revoked": tokens["revoked"],
            }.get(who, tokens.get(who))
            resp = call(client, method, path, token, sample_body(method, path, n))
            if who not in ROLES:
                assert (resp.status_code, code(resp)) == (401, "unauthorized"), (method, path, who)
            elif who not in allowed:
                assert (resp.status_code, code(resp)) == (403, "forbidden"), (method, path, who)
            else:
                assert resp.status_code not in (401, 403), (method, path, who, resp.body)


def test_counter_registers_while_the_app_is_closed_and_the_person_is_then_taken(
    client: Any, tokens: dict[str, str]
) -> None:
    closed = call(client, "PUT", "/v1/admin/channels/app", tokens["admin"], {"open": False})
    assert closed.json_body == {"channel": "app", "open": False}
    assert code(call(client, "POST", "/v1/registrations", None, body(1))) == "channel_closed"
    at_counter = call(client, "POST", "/v1/counter/registrations", tokens["counter"], body(2))
    assert at_counter.status_code == 201
    assert at_counter.json_body["channel"] == "counter" and at_counter.json_body["status"] == "confirmed"
    assert client.http.get("/v1/campaign").json_body["channels"] == {"app": "closed", "counter": "open", "org": "open"}
    call(client, "PUT", "/v1/admin/channels/app", tokens["admin"], {"open": True})
    assert code(call(client, "POST", "/v1/registrations", None, body(2))) == "already_registered"


def test_the_counter_label_is_recorded_on_the_registration(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.store.factory import stores

    reg = call(client, "POST", "/v1/counter/registrations", tokens["counter"], body(3)).json_body
    assert stores().registrations.get(reg["registration_id"]).label == "counter desk 1"


def test_channel_control_refuses_unknown_channels_and_bad_bodies(client: Any, tokens: dict[str, str]) -> None:
    assert code(call(client, "PUT", "/v1/admin/channels/fax", tokens["admin"], {"open": False})) == "not_found"
    assert code(call(client, "PUT", "/v1/admin/channels/app", tokens["admin"], {"open": "no"})) == "validation_error"
    assert code(call(client, "PUT", "/v1/admin/channels/app", tokens["admin"], "[]")) == "validation_error"
    assert client.http.get("/v1/campaign").json_body["channels"]["app"] == "open"


def test_closing_org_stops_batches(client: Any, tokens: dict[str, str]) -> None:
    call(client, "PUT", "/v1/admin/channels/org", tokens["admin"], {"open": False})
    resp = call(client, "POST", "/v1/org/batches", tokens["org"], {"organisation": "ACME", "rows": [body(1)]})
    assert (resp.status_code, code(resp)) == (403, "channel_closed")


def submit(client: Any, token: str, rows: list[Any], **headers: str) -> dict[str, Any]:
    resp = call(client, "POST", "/v1/org/batches", token, {"organisation": "ขอนแก่นการทอ จำกัด", "rows": rows}, **headers)
    assert resp.status_code == 202, resp.body
    assert resp.json_body["status"] == "processing" and resp.json_body["row_count"] == len(rows)
    return dict(resp.json_body)


def test_a_batch_checks_every_row_and_counts_against_the_same_quota(
    client: Any, tokens: dict[str, str], campaign_env: Any, queues: Any
) -> None:
    campaign_env(primary=3, reserve=1)
    assert call(client, "POST", "/v1/registrations", None, body(1)).status_code == 201  # already registered
    rows = [
        body(2),  # confirmed
        body(3, phone="123"),  # invalid
        body(1),  # duplicate of an existing registration
        body(4),  # confirmed (the last primary place)
        body(4),  # duplicate inside the batch
        body(5),  # reserve
        body(6),  # quota ran out
        "not an object",  # invalid
    ]
    batch = submit(client, tokens["org"], rows)
    before = call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org"]).json_body
    assert before["status"] == "processing" and before["processed"] == 0
    queues.drain()
    done = call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org"]).json_body
    assert done["status"] == "done" and done["processed"] == done["row_count"] == 8
    outcomes = [(r["row"], r["outcome"], (r.get("error") or {}).get("code")) for r in done["results"]]
    assert outcomes == [
        (1, "confirmed", None),
        (2, "rejected", "validation_error"),
        (3, "rejected", "already_registered"),
        (4, "confirmed", None),
        (5, "rejected", "already_registered"),
        (6, "reserve", None),
        (7, "rejected", "registration_full"),
        (8, "rejected", "validation_error"),
    ]
    assert done["results"][1]["error"]["fields"] == ["phone"]
    assert all(r["registration_id"].startswith("r_") for r in done["results"] if r["outcome"] != "rejected")
    summary = call(client, "GET", "/v1/admin/summary", tokens["admin"]).json_body
    assert summary["registrations"]["by_channel"] == {"app": 1, "counter": 0, "org": 3}
    assert summary["registrations"]["by_status"] == {"confirmed": 3, "reserve": 1, "cancelled": 0}
    assert summary["primary"] == {"capacity": 3, "used": 3} and summary["reserve"] == {"capacity": 1, "used": 1}


def test_a_redelivered_chunk_changes_nothing(client: Any, tokens: dict[str, str], queues: Any) -> None:
    from chalicelib.services import batches

    batch = submit(client, tokens["org"], [body(10), body(11)])
    queues.drain()
    first = call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org"]).json_body
    batches.process_chunk(batch["batch_id"], 0)
    again = call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org"]).json_body
    assert again == first
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 49_998


def test_a_chunk_interrupted_after_registering_a_row_records_that_registration(
    client: Any, tokens: dict[str, str], queues: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.factory import stores

    batch = submit(client, tokens["org"], [body(12)])
    real_record = stores().batches.record
    monkeypatch.setattr(stores().batches, "record", raising(RuntimeError("died")))
    queues.drain()  # the worker dies after the registration, before the outcome: the message stays
    monkeypatch.setattr(stores().batches, "record", real_record)
    from chalicelib.services import batches

    batches.process_chunk(batch["batch_id"], 0)
    result = call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org"]).json_body["results"][0]
    assert result["outcome"] == "confirmed"
    lookup = call(
        client,
        "POST",
        "/v1/registrations/lookup",
        None,
        {"national_id": body(12)["national_id"], "birth_date": "1980-01-31"},
    )
    assert lookup.json_body["status"] == "confirmed"
    assert call(client, "GET", f"/v1/registrations/{result['registration_id']}", None).status_code == 200


def test_one_org_cannot_read_another_orgs_batch(client: Any, tokens: dict[str, str]) -> None:
    batch = submit(client, tokens["org"], [body(20)])
    assert code(call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["org2"])) == "not_found"
    assert call(client, "GET", f"/v1/org/batches/{batch['batch_id']}", tokens["admin"]).status_code == 200


def as_csv(rows: list[dict[str, Any]], bom: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "national_id",
            "first_name",
            "last_name",
            "birth_date",
            "phone",
            "eligibility.basis",
            "eligibility.detail",
            "consent",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r["national_id"],
                r["first_name"],
                r["last_name"],
                r["birth_date"],
                r["phone"],
                r["eligibility"]["basis"],
                r["eligibility"]["detail"],
                str(r["consent"]).lower(),
            ]
        )
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


@pytest.mark.parametrize("bom", [True, False])
def test_a_csv_batch_and_a_json_batch_give_the_same_outcomes(
    client: Any, tokens: dict[str, str], queues: Any, campaign_env: Any, bom: bool
) -> None:
    campaign_env(primary=4, reserve=0)

    def rows(n: int) -> list[dict[str, Any]]:
        return [body(n), body(n + 1, birth_date="2019-01-01"), body(n + 2), body(n)]

    def outcomes(batch_id: str) -> list[tuple[int, str, str | None]]:
        done = call(client, "GET", f"/v1/org/batches/{batch_id}", tokens["org"]).json_body
        assert done["status"] == "done"
        return [(r["row"], r["outcome"], (r.get("error") or {}).get("code")) for r in done["results"]]

    from_csv = call(
        client,
        "POST",
        "/v1/org/batches?organisation=ACME",
        tokens["org"],
        as_csv(rows(30), bom),
        **{"Content-Type": "text/csv"},
    )
    assert from_csv.status_code == 202, from_csv.body
    from_json = call(client, "POST", "/v1/org/batches", tokens["org"], {"organisation": "ACME", "rows": rows(40)})
    queues.drain()
    expected = [
        (1, "confirmed", None),
        (2, "rejected", "not_eligible"),
        (3, "confirmed", None),
        (4, "rejected", "already_registered"),
    ]
    assert outcomes(from_csv.json_body["batch_id"]) == outcomes(from_json.json_body["batch_id"]) == expected


def test_csv_batches_with_bad_columns_or_encoding_are_refused(client: Any, tokens: dict[str, str]) -> None:
    def post_csv(data: bytes, query: str = "?organisation=ACME") -> Any:
        return call(client, "POST", f"/v1/org/batches{query}", tokens["org"], data, **{"Content-Type": "text/csv"})

    missing = post_csv(b"national_id,first_name\n1101700230708,A\n")
    assert code(missing) == "validation_error"
    assert missing.json_body["error"]["fields"] == ["basis", "birth_date", "consent", "detail", "last_name", "phone"]
    assert code(post_csv(as_csv([body(1)], False).decode().encode("utf-16"))) == "validation_error"
    assert post_csv(as_csv([body(1)], False), query="").json_body["error"]["fields"] == ["organisation"]
    assert code(post_csv(as_csv([body(1)], False).split(b"\n")[0] + b"\n")) == "validation_error"


def test_oversized_batches_are_refused_and_nothing_is_stored(client: Any, tokens: dict[str, str]) -> None:
    too_many = call(
        client, "POST", "/v1/org/batches", tokens["org"], {"organisation": "ACME", "rows": [body(1)] * 1001}
    )
    assert code(too_many) == "validation_error" and too_many.json_body["error"]["fields"] == ["rows"]
    empty = call(client, "POST", "/v1/org/batches", tokens["org"], {"organisation": "ACME", "rows": []})
    assert code(empty) == "validation_error"
    big = {
        "organisation": "ACME",
        "rows": [body(i, eligibility={"basis": "house_registration", "detail": "ก" * 290}) for i in range(1000)],
    }
    assert len(json.dumps(big, ensure_ascii=False).encode()) > 1024 * 1024
    assert code(call(client, "POST", "/v1/org/batches", tokens["org"], big)) == "payload_too_large"
    unknown = call(
        client, "POST", "/v1/org/batches", tokens["org"], {"organisation": "ACME", "rows": [body(1)], "x": 1}
    )
    assert unknown.json_body["error"]["fields"] == ["x"]


def test_a_batch_sent_twice_with_one_key_is_one_batch(client: Any, tokens: dict[str, str]) -> None:
    first = submit(client, tokens["org"], [body(40)], **{"Idempotency-Key": "acme-2026-07-06"})
    again = submit(client, tokens["org"], [body(40)], **{"Idempotency-Key": "acme-2026-07-06"})
    assert first == again


def test_the_csv_export_round_trips_thai_names(client: Any, tokens: dict[str, str], campaign_env: Any) -> None:
    campaign_env(primary=2, reserve=2)
    names = [("สมชาย", "ใจดี"), ("ณัฐวุฒิ", "ศรีสุข"), ("José", "O'Brien")]
    for i, (first, last) in enumerate(names):
        call(client, "POST", "/v1/registrations", None, body(50 + i, first_name=first, last_name=last))
    resp = call(client, "GET", "/v1/admin/registrations.csv", tokens["admin"])
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    raw = resp.body if isinstance(resp.body, bytes) else resp.body.encode()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert sorted((r["first_name"], r["last_name"]) for r in rows) == sorted(names)
    assert sorted(r["status"] for r in rows) == ["confirmed", "confirmed", "reserve"]
    assert [r["reserve_rank"] for r in rows if r["status"] == "reserve"] == ["1"]
    only = call(client, "GET", "/v1/admin/registrations.csv?status=reserve", tokens["admin"])
    assert (
        len(
            list(
                csv.DictReader(
                    io.StringIO(
                        only.body.decode("utf-8-sig") if isinstance(only.body, bytes) else only.body.lstrip("\ufeff")
                    )
                )
            )
        )
        == 1
    )
    assert code(call(client, "GET", "/v1/admin/registrations.csv?status=maybe", tokens["admin"])) == "validation_error"


def test_the_export_comes_in_pages_linked_by_cursor(
    client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "EXPORT_PAGE_ROWS", 1)
    for i in range(250):
        call(client, "POST", "/v1/registrations", None, body(100 + i))
    path, seen, pages = "/v1/admin/registrations.csv", [], 0
    while path:
        resp = call(client, "GET", path, tokens["admin"])
        text = resp.body.decode("utf-8") if isinstance(resp.body, bytes) else resp.body
        lines = [line for line in text.lstrip("\ufeff").splitlines() if line]
        seen += [line.split(",")[0] for line in (lines[1:] if pages == 0 else lines)]
        pages += 1
        link = resp.headers.get("Link")
        path = link[1 : link.index(">")] if link else ""
    assert pages > 1
    assert len(seen) == len(set(seen)) == 250


def test_the_audit_trail_records_each_staff_action(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.domain import rules

    call(client, "PUT", "/v1/admin/channels/app", tokens["admin"], {"open": False})
    reg = call(client, "POST", "/v1/counter/registrations", tokens["counter"], body(60)).json_body
    call(client, "GET", "/v1/admin/summary", tokens["counter"])  # refused: recorded too
    day = rules.today_in_bangkok().isoformat()
    log = call(client, "GET", f"/v1/admin/audit?date={day}", tokens["admin"]).json_body
    got = [(e["label"], e["action"], e["status"], e["target"]) for e in log["entries"]]
    assert got[:3] == [
        ("admin desk 1", "admin.channel.set", 200, "channel=app"),
        ("counter desk 1", "counter.register", 201, f"registration_id={reg['registration_id']}"),
        ("counter desk 1", "admin.summary", 403, None),
    ]
    assert all((e["token_id"].startswith("t_") and e["at"].endswith("Z")) or "+" in e["at"] for e in log["entries"])
    assert code(call(client, "GET", "/v1/admin/audit?date=yesterday", tokens["admin"])) == "validation_error"


def audit_pages(client: Any, token: str, day: str, limit: int) -> list[dict[str, Any]]:
    """Every page of the day's audit trail, following ``next_cursor``."""
    pages, cursor = [], None
    while True:
        query = f"date={day}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        resp = call(client, "GET", f"/v1/admin/audit?{query}", token)
        assert resp.status_code == 200, resp.json_body
        pages.append(resp.json_body)
        cursor = resp.json_body["next_cursor"]
        if cursor is None:
            return pages


def test_the_audit_trail_comes_in_pages_linked_by_a_cursor(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.domain import rules

    # Given 24 staff actions today
    for _ in range(24):
        call(client, "GET", "/v1/admin/summary", tokens["admin"])
    day = rules.today_in_bangkok().isoformat()
    # When the trail is read 10 entries a page
    pages = audit_pages(client, tokens["admin"], day, 10)
    # Then the pages hold every entry once, oldest first, and only the last has no next cursor
    entries = [e for page in pages for e in page["entries"]]
    assert [len(p["entries"]) for p in pages[:-1]] == [10] * (len(pages) - 1) and 1 <= len(pages[-1]["entries"]) <= 10
    assert all(p["next_cursor"] for p in pages[:-1])
    assert sum(e["action"] == "admin.summary" for e in entries) == 24
    assert len({json.dumps(e, sort_keys=True) for e in entries}) == len(entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    # And one page by default holds them all
    whole = call(client, "GET", f"/v1/admin/audit?date={day}", tokens["admin"]).json_body
    assert whole["entries"][: len(entries)] == entries


def test_a_changed_or_foreign_cursor_or_a_bad_limit_is_a_validation_error(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.domain import rules

    # Given a cursor of today's trail
    for _ in range(3):
        call(client, "GET", "/v1/admin/summary", tokens["admin"])
    day = rules.today_in_bangkok().isoformat()
    cursor = call(client, "GET", f"/v1/admin/audit?date={day}&limit=1", tokens["admin"]).json_body["next_cursor"]
    text, mac = cursor.split(".")
    changed = [
        ("A" if text[0] != "A" else "B") + text[1:] + "." + mac,  # another position
        text + "." + ("A" if mac[0] != "A" else "B") + mac[1:],  # another MAC
        text,  # no MAC
        "not a cursor",
    ]
    # When it is changed, or used for another day, or the limit is out of range
    paths = [f"/v1/admin/audit?date={day}&cursor={c}" for c in changed]
    paths += [f"/v1/admin/audit?date=2026-01-01&cursor={cursor}"]
    paths += [f"/v1/admin/audit?date={day}&limit={n}" for n in ("0", "1001", "ten", "-5")]
    # Then each is 400 validation_error in the envelope
    for path in paths:
        resp = call(client, "GET", path, tokens["admin"])
        assert resp.status_code == 400 and code(resp) == "validation_error", path
        assert resp.json_body["error"]["message_th"]


def test_refused_calls_add_at_most_ten_entries_a_token_a_minute(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.domain import rules

    # Given a counter token making 200 calls it may not make
    for _ in range(200):
        assert call(client, "GET", "/v1/admin/summary", tokens["counter"]).status_code == 403
    # When the day's trail is read
    day = rules.today_in_bangkok().isoformat()
    entries = [e for p in audit_pages(client, tokens["admin"], day, 1000) for e in p["entries"]]
    mine = [e for e in entries if e["label"] == "counter desk 1"]
    # Then ten refusals a minute are entries of their own, the rest one count per minute
    one_by_one = [e for e in mine if e["action"] == "admin.summary"]
    counts = [e for e in mine if e["action"] == "audit.suppressed"]
    minutes = len(counts)
    assert 1 <= minutes <= 2  # the calls may straddle a minute
    assert len(one_by_one) <= 10 * minutes and len(mine) <= 11 * minutes
    assert len(one_by_one) + sum(e["suppressed"] for e in counts) == 200
    assert all(e["status"] == 403 and e["role"] == "counter" for e in mine)
    # And the admin's own calls are not held back by it
    assert call(client, "GET", "/v1/admin/summary", tokens["admin"]).status_code == 200


def test_a_closed_channel_is_seen_by_other_containers_within_the_cache_time(
    client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import campaign

    assert campaign.channel_states()["app"] is True  # this "container" caches: open
    from chalicelib.store.factory import stores

    stores().channels.set_channel(Channel.APP.value, False)  # another container closes it
    assert campaign.channel_states()["app"] is True  # still cached, no read per request
    clock = campaign.time.monotonic
    monkeypatch.setattr(campaign.time, "monotonic", lambda: clock() + campaign.CHANNEL_CACHE_SECONDS + 0.1)
    assert campaign.channel_states()["app"] is False
    assert campaign.CHANNEL_CACHE_SECONDS <= 5
