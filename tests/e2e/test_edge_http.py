"""The local stack over real HTTP: its per-address edge limit, and its operator endpoints' guards
against DNS rebinding (contract v1.1, "Limits at the edge" and "Hygiene rules"): the token endpoint,
the SMS stand-in's ``/_messages`` and the registry stand-ins' ``/_control``."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.stack import LocalStack
from tests.conftest import STAGE

LIMIT = 3
VERIFICATION_LIMIT = 2


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EDGE_RATE_LIMIT_PER_5MIN", str(LIMIT))
        env.setenv("EDGE_VERIFICATION_LIMIT_PER_5MIN", str(VERIFICATION_LIMIT))
        started = LocalStack(stage=STAGE)
        try:
            yield started.__enter__()
        finally:
            started.close()
            from chalicelib.store import factory

            factory.reset()


def send(
    stack: LocalStack,
    method: str,
    path: str,
    payload: Any = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
    port: int | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request from the client address ``source`` (any 127/8 address is this machine), to the
    stack's API or to ``port`` (a stand-in's)."""
    port = port or stack.server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    raw = payload if isinstance(payload, bytes) else None if payload is None else json.dumps(payload).encode()
    try:
        conn.putrequest(method, path, skip_host=True)
        sent = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **(headers or {})}
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(raw or b"")))
        conn.endheaders(raw)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(body) if body else None
    finally:
        conn.close()


LOOKUP = {"national_id": "1101700230708", "birth_date": "1980-01-31"}


def test_an_address_over_the_limit_gets_429_in_the_envelope_and_others_go_on(stack: LocalStack) -> None:
    # Given one address that sends LIMIT public POSTs (lookups of nobody: 404)
    source = "127.0.0.3"
    assert [send(stack, "POST", "/v1/registrations/lookup", LOOKUP, source=source)[0] for _ in range(LIMIT)] == [
        404
    ] * LIMIT
    # When it sends one more / Then 429 rate_limited with Retry-After, in the envelope, never cached
    status, headers, body = send(stack, "POST", "/v1/registrations", {}, source=source)
    assert status == 429
    assert body["error"]["code"] == "rate_limited" and body["error"]["message_th"]
    assert 1 <= int(headers["retry-after"]) <= 300
    assert headers["cache-control"] == "no-store"
    # and its reads are not limited, nor another address's POSTs
    assert send(stack, "GET", "/v1/campaign", source=source)[0] == 200
    assert send(stack, "POST", "/v1/registrations/lookup", LOOKUP, source="127.0.0.4")[0] == 404


def test_asking_for_sms_codes_has_a_tighter_limit_whose_refusals_the_public_limit_does_not_count(
    stack: LocalStack,
) -> None:
    # Given an address that asked for VERIFICATION_LIMIT codes (different phones: SMS pumping)
    source = "127.0.0.6"
    phones = [f"08123456{n:02d}" for n in range(VERIFICATION_LIMIT + 3)]
    asked = [send(stack, "POST", "/v1/verifications", {"phone": p}, source=source)[0] for p in phones]
    # Then the next ones are 429 rate_limited (with or without a trailing slash)
    assert asked == [202] * VERIFICATION_LIMIT + [429] * 3
    status, headers, body = send(stack, "POST", "/v1/verifications/", {"phone": phones[0]}, source=source)
    assert status == 429 and body["error"]["code"] == "rate_limited" and int(headers["retry-after"]) >= 1
    # and its other public POSTs still have what the public limit leaves them (the refusals were not counted)
    left = LIMIT - VERIFICATION_LIMIT
    assert [send(stack, "POST", "/v1/registrations/lookup", LOOKUP, source=source)[0] for _ in range(left)] == [
        404
    ] * left


def test_staff_posts_are_not_counted(stack: LocalStack) -> None:
    # Given a counter token, and an address that has used up its public POSTs
    source = "127.0.0.5"
    status, _, issued = send(stack, "POST", "/_local/tokens", {"role": "counter", "label": "Counter 1"})
    assert status == 201
    for _ in range(LIMIT):
        send(stack, "POST", "/v1/registrations/lookup", LOOKUP, source=source)
    # When the counter desk posts from that address / Then its requests reach the app (400: empty body)
    auth = {"Authorization": f"Bearer {issued['token']}"}
    statuses = [send(stack, "POST", "/v1/counter/registrations", {}, auth, source=source)[0] for _ in range(LIMIT + 2)]
    assert statuses == [400] * (LIMIT + 2)


@pytest.mark.parametrize(
    ("host", "content_type"),
    [
        ("attacker.example", "text/plain"),  # the DNS rebinding attack of issue 14
        ("attacker.example:8000", "application/json"),
        ("localhost.attacker.example", "application/json"),
    ],
)
def test_the_token_endpoint_ignores_requests_addressed_to_another_name(
    stack: LocalStack, host: str, content_type: str
) -> None:
    # Given a request from this machine, but addressed to a web site's name
    payload = json.dumps({"role": "admin", "label": "attacker"}).encode()
    status, _, body = send(stack, "POST", "/_local/tokens", payload, {"Host": host, "Content-Type": content_type})
    # Then no token: the endpoint does not exist for it
    assert status == 404 and "token" not in body and body["error"]["code"] == "not_found"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_the_token_endpoint_takes_json_only(stack: LocalStack, content_type: str) -> None:
    # Given a loopback name but a content type a web page may send cross-site without asking
    payload = json.dumps({"role": "admin", "label": "form"}).encode()
    status, _, body = send(stack, "POST", "/_local/tokens", payload, {"Content-Type": content_type})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_make_token_works_on_every_loopback_name_and_tokens_expire_after_the_days_asked(
    stack: LocalStack, host: str
) -> None:
    port = stack.server.server_address[1]
    payload = {"role": "org", "label": "Khon Kaen Textiles Co.", "days": 7}
    status, _, body = send(stack, "POST", "/_local/tokens", payload, {"Host": f"{host}:{port}"})
    assert status == 201
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert send(stack, "POST", "/_local/tokens", {**payload, "days": 0})[2]["error"]["fields"] == ["days"]


def stand_in_ports(stack: LocalStack) -> dict[str, int]:
    return {"sms": stack.sms.server.server_address[1]} | {
        name: s.server.server_address[1] for name, s in stack.registries.items()
    }


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "localhost.attacker.example"])
@pytest.mark.parametrize(("stand_in", "path"), [("sms", "/_messages"), ("mor_phrom", "/_control")])
def test_the_stand_ins_answer_nothing_to_requests_addressed_to_another_name(
    stack: LocalStack, host: str, stand_in: str, path: str
) -> None:
    # Given a page that rebound its name to 127.0.0.1, in the operator's browser
    port = stand_in_ports(stack)[stand_in]
    # When it reads the SMS sent (OTPs, receipt codes) or a registry's state / Then 404, nothing in it
    status, _, body = send(stack, "GET", path, headers={"Host": host}, port=port)
    assert status == 404 and body == {"error": "refused"}
    # and addressed to loopback by name, the same request is served
    assert send(stack, "GET", path, headers={"Host": f"localhost:{port}"}, port=port)[0] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_registry_stand_in_takes_its_fault_switches_in_json_only(stack: LocalStack, content_type: str) -> None:
    # Given a post a web page may send cross-site without asking (a "simple" request)
    port = stand_in_ports(stack)["khon_kaen_phrom"]
    payload = json.dumps({"down": True, "add": ["1101700230708"]}).encode()
    # When it posts to /_control / Then 415, and the stand-in is as it was
    status, _, body = send(stack, "POST", "/_control", payload, {"Content-Type": content_type}, port=port)
    assert status == 415 and body == {"error": "refused"}
    assert send(stack, "GET", "/_control", port=port)[2]["down"] is False


def test_a_foreign_name_cannot_post_to_the_stand_ins_either(stack: LocalStack) -> None:
    # Given a rebound page posting JSON (after a preflight it answered itself, being same-origin)
    ports = stand_in_ports(stack)
    foreign = {"Host": "attacker.example"}
    # When it switches a registry down or sends an SMS / Then 404: neither happened
    assert send(stack, "POST", "/_control", {"down": True}, foreign, port=ports["mor_phrom"])[0] == 404
    assert send(stack, "GET", "/_control", port=ports["mor_phrom"])[2]["down"] is False
    assert send(stack, "POST", "/messages", {"to": "0812345678", "text": "x"}, foreign, port=ports["sms"])[0] == 404
