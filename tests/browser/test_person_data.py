"""The person's data on the pages (contract v1.2): the consent text a registration agrees to and the
data protection officer's contact on the public page, "download my data" and "erase my data", and
the counter desk's confirmation that the person agreed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from chalicelib.domain.consent import CONSENT_VERSION, TEXT_EN, TEXT_TH
from tests.browser.conftest import Stack, new_person, serve, verify_phone
from tests.browser.test_counter_desk import fill_registration, sign_in

DPO = "dpo@khonkaen.go.th · 043-221-000"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from serve(DPO_CONTACT=DPO)


def look_up(page: Any, person: dict[str, Any]) -> None:
    page.locator("#lookup-national_id").fill(person["national_id"])
    assert person["birth_date"] == "1980-01-31"
    page.locator("#lookup-birth_date").fill("31/01/2523")  # as the ID card prints it (Buddhist Era)
    page.locator("#lookup-birth_date").press("Enter")
    expect(page.locator("#lookup-result .result")).to_be_visible()


def test_the_public_page_shows_the_consent_text_it_agrees_to_and_the_dpo(page: Any, stack: Stack) -> None:
    # Given the public page, once the phone is verified (the details form shows)
    page.goto(f"{stack.url}/")
    verify_phone(page, stack, new_person()["phone"])
    # Then the consent text the service records, with its version, is shown above its checkbox
    text = page.locator("#consent-text")
    expect(text).to_contain_text(CONSENT_VERSION)
    expect(text.get_by_test_id("consent-th")).to_have_text(TEXT_TH)
    box = text.bounding_box()
    checkbox = page.locator("[data-field=consent]").bounding_box()
    assert box is not None and checkbox is not None and box["y"] < checkbox["y"]
    # And the data protection officer's contact
    expect(page.get_by_test_id("dpo-contact")).to_have_text(DPO)
    # And in English once switched
    page.locator("#lang-switch").click()
    expect(text.get_by_test_id("consent-en")).to_be_visible()
    expect(text.get_by_test_id("consent-en")).to_have_text(TEXT_EN)
    expect(text.get_by_test_id("consent-th")).to_be_hidden()


def test_a_person_downloads_their_data_then_erases_it(page: Any, stack: Stack) -> None:
    # Given a person registered on the app, who looks themselves up
    person, resource = stack.register()
    code = resource["registration_id"]
    page.goto(f"{stack.url}/")
    look_up(page, person)
    # When they download their data with their receipt code
    page.locator("#data-code").fill(code)
    with page.expect_download() as download:
        page.locator("#data-download").click()
    # Then the file is the JSON of everything held: their own fields, the consent they gave
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert download.value.suggested_filename.endswith(".json")
    assert (data["registration_id"], data["national_id"], data["phone"]) == (
        code,
        person["national_id"],
        person["phone"],
    )
    assert data["consent"]["version"] == CONSENT_VERSION and data["consent"]["channel"] == "app"
    expect(page.locator("#data-done")).to_be_visible()
    # When they ask for erasure, and confirm
    page.locator("#erase-start").click()
    page.locator("#erase-confirm").click()
    # Then the page says so, and the service holds nothing of them
    expect(page.locator("#data-done")).to_contain_text("ลบข้อมูลส่วนบุคคลของท่านแล้ว")
    assert stack.get(f"/v1/registrations/{code}")["status"] == "cancelled"
    again = requests.post(
        f"{stack.url}/v1/registrations/{code}/data", json={"birth_date": person["birth_date"]}, timeout=10
    )
    assert again.status_code == 404
    lookup = {"national_id": person["national_id"], "birth_date": person["birth_date"]}
    assert requests.post(f"{stack.url}/v1/registrations/lookup", json=lookup, timeout=10).status_code == 404


def test_the_counter_desk_registers_only_once_the_staff_member_confirms_the_persons_consent(
    page: Any, stack: Stack
) -> None:
    # Given a signed-in counter, with the consent text to read out
    token, _ = stack.token("counter", "Counter 7")
    sign_in(page, stack, token)
    page.locator("#consent-text summary").click()
    expect(page.locator("#consent-text").get_by_test_id("consent-th")).to_have_text(TEXT_TH)
    # When the staff member fills in a person's details but does not confirm the consent
    person = new_person()
    fill_registration(page, person)
    page.locator("#reg-consent").uncheck()
    expect(page.locator("#reg-form [data-field=consent] label")).to_contain_text("ยืนยันว่าผู้ลงทะเบียนได้รับทราบ")
    page.locator("#reg-submit").click()
    # Then nothing is sent: the checkbox says it must be ticked, and nobody is registered
    expect(page.locator("#reg-consent-msg")).to_contain_text("ต้องยินยอม")
    expect(page.locator("#reg-consent")).to_be_focused()
    lookup = {"national_id": person["national_id"], "birth_date": person["birth_date"]}
    assert requests.post(f"{stack.url}/v1/registrations/lookup", json=lookup, timeout=10).status_code == 404
    # When they tick it and register
    page.locator("#reg-consent").check()
    page.locator("#reg-submit").click()
    # Then the person is registered, with the consent recorded as confirmed at the counter
    receipt = page.locator("#outcome-body").get_by_test_id("receipt-code").first
    expect(receipt).to_have_text(re.compile(r"^r_"))
    consent = stack.get(f"/v1/registrations/{receipt.text_content()}")["consent"]
    assert consent["version"] == CONSENT_VERSION and consent["channel"] == "counter"
