"""The public page through the waiting room (contract v1.2), in Chromium against the local stack with
the waiting room on: the line before and after the opening, the form sent the moment the person is
admitted, back to the line on 403 admission_required, a full line; screenshots of each. The line
before the opening: test_waiting_room_opening.py."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, Stack, new_person, serve, shoot, verify_phone
from tests.browser.test_counter_desk import fill_registration

# One household admitted every 3 seconds: a person behind a few others waits long enough to be seen
# waiting, and not long.
ADMIT_PER_MINUTE = 20


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from serve(WAITING_ROOM="on", ADMIT_PER_MINUTE=str(ADMIT_PER_MINUTE))


def others_join(stack: Stack, count: int) -> list[str]:
    """People ahead in the line, joined through the API (their tokens signed as confirming a code would)."""
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import sign_token

    tickets = []
    for _ in range(count):
        phone = new_person()["phone"]
        token = sign_token(phone, int(time.time()) + 3600, verification_keys())
        r = requests.post(f"{stack.url}/v1/queue", json={"verification_token": token}, timeout=10)
        assert r.status_code == 201, r.text
        tickets.append(r.json()["ticket"])
    return tickets


def test_the_page_joins_the_line_shows_the_place_and_sends_the_form_when_it_is_the_persons_turn(
    page: Any, stack: Stack
) -> None:
    # Given five people in line already
    others_join(stack, 5)
    person = new_person()
    page.goto(f"{stack.url}/")
    expect(page.locator("#line")).to_be_hidden()
    # When the person verifies their phone
    verify_phone(page, stack, person["phone"])
    # Then the page joins the line and shows their place, the people ahead, the wait and the progress
    line = page.locator("#line")
    expect(line).to_be_visible()
    expect(page.locator("#line-position")).to_have_text(re.compile(r"^[0-9]+$"))
    expect(page.locator("#line-status")).to_contain_text("ท่านอยู่ในคิวแล้ว")
    ahead = int(page.locator("#line-ahead").text_content() or "0")
    assert ahead >= 1
    expect(page.locator("#line-wait")).to_contain_text(re.compile("นาที|ไม่ถึง"))
    expect(page.locator("#line-progress")).to_be_visible()
    # When they fill in the form while waiting and press Register
    fill_registration(page, person)
    page.locator("#reg-submit").click()
    # Then the page says it will send it by itself, and nothing is registered yet
    expect(page.locator("#line-queued")).to_be_visible()
    shoot(page, "line-waiting-th")
    page.locator("#lang-switch").click()
    expect(page.locator("#line-status")).to_contain_text("You are in the line")
    shoot(page, "line-waiting-en")
    assert page.locator("#reg-result").text_content() == ""
    # When serving reaches them / Then the form is sent with the admission, and they are registered
    expect(page.locator("#line-status")).to_have_attribute("data-state", "admitted", timeout=60_000)
    receipt = page.locator("#reg-result").get_by_test_id("receipt-code")
    expect(receipt).to_have_text(re.compile(r"^r_"))
    expect(page.locator("#line-status")).to_contain_text("It is your turn")
    shoot(page, "line-admitted-registered-en")
    assert stack.get(f"/v1/registrations/{receipt.text_content()}")["channel"] == "app"


def test_a_registration_refused_for_want_of_admission_goes_back_to_the_line(page: Any, stack: Stack) -> None:
    # Given an admitted person whose first registration reaches the service without its admission
    person = new_person()
    page.goto(f"{stack.url}/")
    verify_phone(page, stack, person["phone"])
    expect(page.locator("#line-status")).to_have_attribute("data-state", "admitted", timeout=60_000)
    stripped: list[int] = []

    def without_admission(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        if not stripped:
            stripped.append(1)
            body.pop("admission_token", None)
        route.continue_(post_data=json.dumps(body))

    page.route("**/v1/registrations", without_admission)
    fill_registration(page, person)
    page.locator("#reg-submit").click()
    # Then the page says so and reads its place in line again (still admitted)
    expect(page.locator("#reg-error")).to_contain_text("รอคิว")
    expect(page.locator("#line-status")).to_have_attribute("data-state", "admitted")
    # When they press Register again / Then they are registered
    page.locator("#reg-submit").click()
    expect(page.locator("#reg-result").get_by_test_id("receipt-code")).to_have_text(re.compile(r"^r_"))


def test_a_phone_on_a_small_screen_sees_its_place_in_the_line(browser: Any, stack: Stack) -> None:
    context = browser.new_context(viewport=PHONE, locale="th-TH")
    tab = context.new_page()
    try:
        others_join(stack, 3)
        tab.goto(f"{stack.url}/")
        verify_phone(tab, stack, new_person()["phone"])
        expect(tab.locator("#line-position")).to_have_text(re.compile(r"^[0-9]+$"))
        shoot(tab, "line-waiting-phone")
    finally:
        context.close()


def test_a_full_line_says_so_and_refuses_to_join(page: Any, stack: Stack) -> None:
    # Given a person waiting behind others when the places run out
    from chalicelib.services import waiting_room

    others_join(stack, 3)
    page.goto(f"{stack.url}/")
    verify_phone(page, stack, new_person()["phone"])
    expect(page.locator("#line-position")).to_have_text(re.compile(r"^[0-9]+$"))
    # When the line stops (the last place and the reserve are taken)
    waiting_room.note_full()
    # Then the page says the line has stopped
    expect(page.locator("#line-status")).to_have_attribute("data-state", "full", timeout=30_000)
    expect(page.locator("#line-status")).to_contain_text("คิวหยุดแล้ว")
    shoot(page, "line-full-th")
    # And a newcomer cannot join
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import sign_token

    token = sign_token(new_person()["phone"], int(time.time()) + 3600, verification_keys())
    r = requests.post(f"{stack.url}/v1/queue", json={"verification_token": token}, timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "registration_full"
