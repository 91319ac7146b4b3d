"""No personal data in logs: the main flows run with every log line captured."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.helpers import body


def test_main_flows_log_no_national_id_phone_name_or_birth_date(
    client: Any, queues: Any, tokens: dict[str, str], campaign_env: Any, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    campaign_env(primary=1, reserve=1)
    caplog.set_level(logging.DEBUG)
    people = [body(0), body(3, first_name="มานี", last_name="มีนา", phone="0898765432", birth_date="1991-12-24")]
    regs = [
        client.http.post(
            "/v1/registrations", body=json.dumps(p, ensure_ascii=False), headers={"Content-Type": "application/json"}
        ).json_body
        for p in people
    ]
    client.http.post(
        f"/v1/registrations/{regs[0]['registration_id']}/cancel",
        body=json.dumps({"birth_date": "1980-01-31"}),
        headers={"Content-Type": "application/json"},
    )
    client.http.post(
        "/v1/registrations/lookup",
        body=json.dumps({"national_id": people[1]["national_id"], "birth_date": "1991-12-24"}),
        headers={"Content-Type": "application/json"},
    )
    client.http.post(
        "/v1/org/batches",
        body=json.dumps({"organisation": "ACME", "rows": [body(6), body(9, phone="x")]}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {tokens['org']}"},
    )
    client.http.post("/v1/registrations", body="{broken", headers={"Content-Type": "application/json"})
    queues.drain()
    logged = caplog.text + capsys.readouterr().out
    assert "registered" in logged  # the flows did log
    for person in [*people, body(6)]:
        for secret in (
            person["national_id"],
            person["phone"],
            person["birth_date"],
            person["first_name"],
            person["last_name"],
        ):
            assert secret not in logged, secret
