"""The vaccination site at /site/: a receipt code scanned from the counter slip's QR code (a scanner
types it and presses Enter) records the dose; refusals are shown; the SMS link's page shows the
appointments and the same QR code; the dashboard shows the day's doses."""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 - runs zbarimg, a fixed local program, on our own screenshot
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from chalicelib.domain.rules import today_in_bangkok
from tests.browser.conftest import SHOTS, Stack, new_person, serve
from tests.browser.test_counter_desk import fill_registration, sign_in

ZBARIMG = "/usr/bin/zbarimg"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Appointments from today, so that people can be checked in today."""
    yield from serve(VACCINATION_FIRST_DAY=today_in_bangkok().isoformat())


def read_qr(locator: Any, name: str) -> str:
    """What a scanner reads from the QR code on screen (zbarimg on a screenshot of it)."""
    if not Path(ZBARIMG).exists() or shutil.which("zbarimg") is None:
        pytest.fail(f"{ZBARIMG} is missing: run `make browser-deps` (make test does it)")
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    locator.screenshot(path=str(path))
    out = subprocess.run([ZBARIMG, "--raw", "-q", str(path)], capture_output=True, text=True, check=False)  # nosec B603
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def allocate(registration_id: str) -> None:
    # The stack runs in this process: give the appointments now rather than wait for the daily run.
    from chalicelib.services import appointments
    from chalicelib.store.factory import stores

    assert appointments.allocate(stores().registrations.get(registration_id))


def test_a_dose_is_recorded_by_scanning_the_slips_qr_code(page: Any, stack: Stack, admin_token: str) -> None:
    # Given a person registered at a counter, whose slip carries the receipt code as a QR code
    counter, _ = stack.token("counter", "Counter 1")
    person = new_person()
    sign_in(page, stack, counter)
    fill_registration(page, person)
    page.locator("#reg-submit").click()
    slip_qr = page.get_by_test_id("slip-qr")
    expect(slip_qr).to_be_visible()
    code = page.get_by_test_id("receipt-code").first.text_content()
    scanned = read_qr(slip_qr, "slip-qr")
    assert scanned == code
    allocate(code)
    reserve_person, reserve = stack.register()
    while reserve["status"] != "reserve":  # the first places go to earlier tests' people
        reserve_person, reserve = stack.register()

    # When a site's staff signs in and the scanner "types" the code and Enter
    site, _ = stack.token("site", "City hall site")
    page.goto(f"{stack.url}/site/")
    expect(page.locator("#token")).to_be_focused()
    page.keyboard.type(site)
    page.keyboard.press("Enter")
    expect(page.locator("#scan-code")).to_be_focused()
    page.keyboard.type(scanned)
    page.keyboard.press("Enter")

    # Then dose 1 is recorded, in large type, and the field is ready for the next person
    result = page.get_by_test_id("checkin-result")
    expect(result).to_have_attribute("data-outcome", "ok")
    expect(result).to_contain_text("บันทึกเข็มที่ 1 แล้ว")
    expect(page.get_by_test_id("checked-code")).to_have_text(code)
    expect(page.locator("#scan-code")).to_be_focused()
    expect(page.locator("#scan-code")).to_have_value("")
    assert [a["status"] for a in stack.get(f"/v1/registrations/{code}")["appointments"]] == ["done", "booked"]
    expect(page.locator("#history li")).to_have_count(1)

    # And a second scan of the same slip is refused (dose 2 not due), as is a reserve person's ID
    page.keyboard.type(scanned)
    page.keyboard.press("Enter")
    expect(result).to_have_attribute("data-outcome", "refused")
    expect(result).to_contain_text("not_due")
    page.keyboard.type(reserve_person["national_id"])
    page.keyboard.press("Enter")
    expect(result).to_contain_text("not_confirmed")
    page.keyboard.type("no such thing")
    page.keyboard.press("Enter")
    expect(result).to_contain_text("ไม่ใช่รหัสรับลงทะเบียน")
    expect(page.locator("#history li")).to_have_count(1)

    # And the SMS link's page shows the appointments and the same QR code
    page.goto(f"{stack.url}/#code={code}")
    link_qr = page.get_by_test_id("link-qr")
    expect(link_qr).to_be_visible()
    expect(page.locator("#lookup-result")).to_contain_text("ฉีดแล้ว")
    expect(page.locator("#lookup-result")).to_contain_text("เข็มที่ 2")
    assert read_qr(link_qr, "link-qr") == code

    # And the dashboard shows the day's doses per site
    page.goto(f"{stack.url}/admin/")
    page.locator("#token").fill(admin_token)
    page.locator("#token").press("Enter")
    page.locator("#doses-day").click()
    table = page.get_by_test_id("doses-table")
    expect(table.locator("tfoot th").nth(1)).to_have_text("1")
    report = stack.get(f"/v1/admin/reports/daily?date={today_in_bangkok().isoformat()}", admin_token)
    assert report["doses"]["given"]["1"] >= 1, json.dumps(report)
