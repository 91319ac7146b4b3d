"""The counter desk acting for the person at the desk (contract v1.1): reclaiming a national ID that
somebody else registered (a confirmation, then a new slip with the new receipt code and its QR
code), and cancelling for the person (a confirmation that defaults to "go back")."""

from __future__ import annotations

import re
from typing import Any

import requests
from playwright.sync_api import expect

from tests.browser.conftest import Stack, new_person, shoot
from tests.browser.test_counter_desk import fill_registration, sign_in
from tests.browser.test_site_desk import read_qr


def card_style(national_id: str) -> str:
    n = national_id
    return f"{n[0]}-{n[1:5]}-{n[5:10]}-{n[10:12]}-{n[12]}"


def test_a_counter_reclaims_a_squatted_id_and_prints_a_new_slip(page: Any, stack: Stack) -> None:
    # Given a national ID registered through the app by somebody else, with made-up details
    person, squatted = stack.register()
    owner = {**person, "first_name": "เจ้าของ", "last_name": "บัตรจริง", "birth_date": "05/05/2518"}
    owner["phone"] = new_person()["phone"]
    token, _ = stack.token("counter", "Counter 2, city hall")
    sign_in(page, stack, token)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    # When the staff member fills the reclaim form with the card holder's details and presses Enter
    fill_registration(page, owner, "reclaim-form")
    page.locator("#reclaim-national_id").focus()
    page.keyboard.press("Enter")
    # Then a confirmation names the ID as the card prints it and the person, with "reclaim" focused
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(card_style(person["national_id"]))
    expect(dialog).to_contain_text("เจ้าของ บัตรจริง")
    expect(dialog).to_contain_text("the old code stops working")
    expect(page.locator("#confirm-yes")).to_be_focused()
    shoot(page, "counter-reclaim-confirm")
    # And Esc goes back without sending anything
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not [u for u in posts if u.endswith("/v1/counter/reclaims")]
    # When the staff member confirms with Enter
    page.locator("#reclaim-detail").press("Enter")
    expect(page.locator("#confirm-yes")).to_be_focused()
    page.keyboard.press("Enter")
    # Then the result says reclaimed, with a new receipt code the API knows, the place kept
    expect(page.get_by_test_id("outcome-notice")).to_contain_text("คืนสิทธิ์แล้ว")
    expect(page.get_by_test_id("outcome-notice")).to_contain_text("old receipt code no longer works")
    code = page.locator("#outcome-body").get_by_test_id("receipt-code").first
    expect(code).to_have_text(re.compile(r"^r_.{43}$"))
    new = code.text_content()
    assert new and new != squatted["registration_id"]
    resource = stack.get(f"/v1/registrations/{new}")
    assert (resource["status"], resource["reserve_rank"], resource["channel"]) == (
        squatted["status"],
        squatted["reserve_rank"],
        "counter",
    )
    gone = requests.get(f"{stack.url}/v1/registrations/{squatted['registration_id']}", timeout=10)
    assert gone.status_code == 404
    # And the slip is printed anew: the card holder's name, the new code, and the new code as a QR code
    slip = page.locator("#slip").inner_text()
    assert "เจ้าของ บัตรจริง" in slip and new in slip and squatted["registration_id"] not in slip
    assert read_qr(page.get_by_test_id("slip-qr"), "reclaim-slip-qr") == new
    shoot(page, "counter-reclaim-slip")
    # And "next person" clears both forms
    expect(page.locator("#next-person")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#reclaim-national_id")).to_have_value("")


def test_reclaiming_an_id_nobody_registered_says_so(page: Any, stack: Stack) -> None:
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    fill_registration(page, new_person(), "reclaim-form")
    page.locator("#reclaim-submit").click()
    page.locator("#confirm-yes").click()
    expect(page.locator("#reclaim-error")).to_contain_text("ไม่พบการลงทะเบียนที่ยังมีผล")
    expect(page.locator("#reclaim-error")).to_contain_text("no active registration")


def test_a_counter_cancels_for_the_person_after_confirming(page: Any, stack: Stack) -> None:
    # Given a registered person at the desk
    person, resource = stack.register()
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    field = page.locator("#cancel-national_id")
    # A wrong check digit is shown at the field, and nothing is sent
    wrong = person["national_id"][:12] + str((int(person["national_id"][12]) + 1) % 10)
    field.fill(wrong)
    field.press("Enter")
    expect(page.locator("#cancel-national_id-msg")).to_contain_text("wrong check digit")
    expect(page.locator("#confirm")).to_be_hidden()
    # When the ID is typed and Enter pressed, the confirmation opens on "go back": Enter changes nothing
    field.fill(person["national_id"])
    field.press("Enter")
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(card_style(person["national_id"]))
    expect(dialog).to_contain_text("cannot be undone")
    expect(page.locator("#confirm-no")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(field).to_be_focused()
    assert stack.get(f"/v1/registrations/{resource['registration_id']}")["status"] == resource["status"]
    # When the staff member confirms (Shift+Tab to "yes", Enter)
    field.press("Enter")
    expect(page.locator("#confirm-no")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#confirm-yes")).to_be_focused()
    page.keyboard.press("Enter")
    # Then the desk shows the registration cancelled, as the API has it
    result = page.locator("#cancel-result .result")
    expect(result).to_have_attribute("data-status", "cancelled")
    expect(result).to_contain_text("ยกเลิกแล้ว")
    assert stack.get(f"/v1/registrations/{resource['registration_id']}")["status"] == "cancelled"
    shoot(page, "counter-cancel-result")
    # And cancelling again finds no active registration, in both languages
    field.fill(person["national_id"])
    field.press("Enter")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#cancel-error")).to_contain_text("ไม่พบการลงทะเบียนที่ยังมีผล")
    expect(page.locator("#cancel-error")).to_contain_text("no active registration")
