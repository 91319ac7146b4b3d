"""The public page in the line before the opening (contract v1.2): places are drawn at random when
registration opens, then the turn comes and the form, filled in while waiting, goes by itself."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Stack, new_person, serve, shoot, verify_phone
from tests.browser.test_counter_desk import fill_registration

# The opening this long after the stack starts: time to verify a phone and join the pre-queue.
OPENS_IN_SECONDS = 25
OPENS = {"at": 0.0}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    OPENS["at"] = time.time() + OPENS_IN_SECONDS
    at = datetime.fromtimestamp(OPENS["at"], UTC).isoformat()
    yield from serve(WAITING_ROOM="on", ADMIT_PER_MINUTE="600", REGISTRATION_OPENS_AT=at)


def test_before_the_opening_the_line_is_drawn_at_random_then_the_form_goes_by_itself(page: Any, stack: Stack) -> None:
    # Given the public page before the opening
    page.goto(f"{stack.url}/")
    person = new_person()
    # When the person verifies their phone, then fills in the form and presses Register
    verify_phone(page, stack, person["phone"])
    # Then they are in the line, their place to be drawn at random at the opening
    expect(page.locator("#line-status")).to_contain_text("ลำดับจะสุ่มเมื่อเปิดลงทะเบียน")
    assert time.time() < OPENS["at"]
    fill_registration(page, person)
    page.locator("#reg-submit").click()
    expect(page.locator("#line-queued")).to_be_visible()
    shoot(page, "line-before-opening-th")
    # When the line opens / Then a place, then the turn, and the form goes by itself
    expect(page.locator("#line-status")).to_have_attribute("data-state", "admitted", timeout=90_000)
    expect(page.locator("#reg-result").get_by_test_id("receipt-code")).to_have_text(re.compile(r"^r_"))
    assert time.time() >= OPENS["at"]
