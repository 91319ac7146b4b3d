"""The public page at / and the admin dashboard at /admin/, and screenshots of every page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, Stack, new_person, shoot, verify_phone
from tests.browser.test_counter_desk import fill_registration, sign_in


def registrations_on_app(stack: Stack, admin: str) -> int:
    return int(stack.get("/v1/admin/summary", admin)["registrations"]["by_channel"]["app"])


def test_the_public_page_verifies_the_phone_registers_sends_the_receipt_code_and_cancels(
    page: Any, stack: Stack
) -> None:
    # Given the public page, in Thai by default, which offers the details form only after the phone
    page.goto(f"{stack.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.locator("#register-title")).to_have_text("ลงทะเบียน", use_inner_text=True)
    expect(page.locator("#reg-form")).to_be_hidden()
    person = new_person()
    # When a person asks for a code and types a wrong one
    page.locator("#verify-phone").fill(person["phone"])
    page.locator("#verify-send").click()
    code = stack.sms_code(person["phone"])
    page.locator("#verify-code").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.locator("#verify-confirm").click()
    # Then the page says so, in both languages
    expect(page.locator("#verify-error")).to_contain_text("รหัสยืนยันไม่ถูกต้อง")
    expect(page.locator("#verify-error")).to_contain_text("wrong or has expired")
    # When they type the code from the SMS
    page.locator("#verify-code").fill(code)
    page.locator("#verify-confirm").click()
    # Then the phone is verified and fixed in the details form
    expect(page.locator("#verify-done")).to_contain_text(person["phone"])
    expect(page.locator("#reg-phone")).to_have_value(person["phone"])
    expect(page.locator("#reg-phone")).not_to_be_editable()
    # When they fill in their details and register
    fill_registration(page, person)
    page.locator("#reg-submit").click()
    # Then they see their status and receipt code
    receipt = page.locator("#reg-result").get_by_test_id("receipt-code")
    expect(receipt).to_have_text(re.compile(r"^r_"))
    registration_id = receipt.text_content() or ""
    # And looking up with national ID and birth date finds it, with no receipt code shown
    page.locator("#lookup-national_id").fill(person["national_id"])
    page.locator("#lookup-birth_date").fill("31/01/2523")
    page.locator("#lookup-birth_date").press("Enter")
    result = page.locator("#lookup-result")
    resource = stack.get(f"/v1/registrations/{registration_id}")
    expect(result.locator(".result")).to_have_attribute("data-status", resource["status"])
    expect(result.get_by_test_id("receipt-code")).to_have_count(0)
    assert registration_id not in (result.text_content() or "")
    if resource["status"] == "reserve":
        expect(result.get_by_test_id("status-headline")).to_contain_text(f"ลำดับที่ {resource['reserve_rank']}")
    # When they ask for their receipt code by SMS
    page.locator("#receipt-send").click()
    expect(page.locator("#receipt-done")).to_contain_text("รหัสรับลงทะเบียนจะส่งไปยังเบอร์โทรศัพท์")
    # Then it reaches the phone they registered with
    sent = stack.sms_text(person["phone"], re.compile(r"receipt code is (r_[A-Za-z0-9_-]+)"))
    assert sent.group(1) == registration_id
    shoot(page, "public-verified-registration")
    # When they cancel with that code, after confirming
    page.locator("#cancel-start").click()
    page.locator("#cancel-code").fill(sent.group(1))
    page.locator("#cancel-confirm").click()
    # Then the page and the API both say cancelled
    expect(result.locator(".result")).to_have_attribute("data-status", "cancelled")
    assert stack.get(f"/v1/registrations/{registration_id}")["status"] == "cancelled"


def test_the_english_switch_translates_the_page(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/")
    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#register-title")).to_have_text("Register", use_inner_text=True)
    expect(page.locator("#reg-basis option").nth(1)).to_have_text("House registration in the municipality")
    # The choice is remembered for the next visit
    page.reload()
    expect(page.locator("#register-title")).to_have_text("Register", use_inner_text=True)


def test_a_429_is_retried_with_the_same_key_and_registers_once(page: Any, stack: Stack, admin_token: str) -> None:
    # Given a gateway that does the work but answers the browser 429 the first time (the answer is lost)
    sent: list[dict[str, Any]] = []

    def flaky(route: Any) -> None:
        request = route.request
        sent.append({"key": request.headers.get("idempotency-key"), "body": request.post_data})
        real = route.fetch()
        if len(sent) == 1:
            sent[0]["first_answer"] = real.json()
            route.fulfill(
                status=429,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body=json.dumps(
                    {"error": {"code": "rate_limited", "message": "Too many requests.", "message_th": "คำขอมากเกินไป"}}
                ),
            )
        else:
            route.fulfill(response=real)

    page.route("**/v1/registrations", flaky)
    before = registrations_on_app(stack, admin_token)
    page.goto(f"{stack.url}/")
    person = new_person()
    verify_phone(page, stack, person["phone"])
    fill_registration(page, person)
    # When the person presses register once
    page.locator("#reg-submit").click()
    # Then the page says how long to wait, and sends again by itself
    expect(page.locator("#reg-wait")).to_contain_text(re.compile(r"อีกครั้งโดยอัตโนมัติใน \d วินาที"))
    code = page.locator("#reg-result").get_by_test_id("receipt-code")
    expect(code).to_have_text(re.compile(r"^r_"))
    # And both sends carried the same key and body, the retry got the first registration back,
    # and exactly one registration exists
    assert len(sent) == 2
    assert sent[0]["key"] and sent[0]["key"] == sent[1]["key"]
    assert sent[0]["body"] == sent[1]["body"]
    assert code.text_content() == sent[0]["first_answer"]["registration_id"]
    assert registrations_on_app(stack, admin_token) == before + 1


def test_script_in_a_name_is_shown_as_text_and_never_run(page: Any, stack: Stack) -> None:
    hostile = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    scripts_before = page.locator("script").count()
    # The service refuses such a name; the refusal is shown at the field
    fill_registration(page, new_person(first_name=hostile))
    page.locator("#reg-submit").click()
    expect(page.locator("#reg-error")).to_contain_text("ไม่ครบหรือไม่ถูกต้อง")
    expect(page.locator("#reg-first_name")).to_have_attribute("aria-invalid", "true")
    # And when strings with markup do come back (the API's own, and what was typed), they stay text
    page.route(
        "**/v1/counter/registrations",
        lambda route: route.fulfill(
            status=201,
            headers={"Content-Type": "application/json"},
            body=json.dumps(
                {
                    "registration_id": 'r_<img src=x onerror="window.__xss = 3">',
                    "status": "confirmed",
                    "reserve_rank": None,
                    "channel": "counter",
                    "registered_at": "2026-07-06T08:15:00Z",
                    "appointment": {"date": "2026-07-20", "site": "<script>window.__xss = 4</script>"},
                }
            ),
        ),
    )
    page.locator("#reg-submit").click()
    expect(page.locator("#slip")).to_contain_text(hostile)
    expect(page.locator("#slip")).to_contain_text("<script>window.__xss = 4</script>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("script").count() == scripts_before
    assert page.locator("#outcome-body img, #slip img").count() == 0


def test_closing_the_app_channel_on_the_dashboard_shows_on_the_public_page(
    page: Any, stack: Stack, admin_token: str
) -> None:
    # Given an admin on the dashboard
    page.goto(f"{stack.url}/admin/")
    page.locator("#token").fill(admin_token)
    page.locator("#token").press("Enter")
    expect(page.get_by_test_id("primary-used")).to_contain_text(" / ")
    expect(page.locator("#charts svg.chart")).to_have_count(4)
    switch = page.locator('#channels [data-channel="app"]')
    expect(switch).to_have_attribute("aria-checked", "true")
    # When they switch the app channel off
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    # Then the public page says so and does not offer the form
    public = page.context.new_page()
    public.goto(f"{stack.url}/")
    expect(public.locator("#closed-banner")).to_contain_text("ปิดรับลงทะเบียนออนไลน์ชั่วคราว")
    expect(public.locator("#reg-submit")).to_be_disabled()
    # And the counter desk still registers people
    token, _ = stack.token("counter")
    desk = page.context.new_page()
    sign_in(desk, stack, token)
    expect(desk.locator('#status-bar [data-channel="app"]')).to_have_attribute("data-state", "closed")
    fill_registration(desk, new_person())
    desk.locator("#reg-submit").click()
    expect(desk.get_by_test_id("receipt-code").first).to_have_text(re.compile(r"^r_"))
    # And switching it on again reopens the public form
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(public.locator("#closed-banner")).to_be_hidden()
    expect(public.locator("#reg-submit")).to_be_enabled()


def test_the_dashboard_offers_the_exports_as_downloads(page: Any, stack: Stack, admin_token: str) -> None:
    _, resource = stack.register()
    page.goto(f"{stack.url}/admin/")
    page.locator("#token").fill(admin_token)
    page.locator("#token").press("Enter")
    with page.expect_download() as csv_download:
        page.locator("#csv-all").click()
    text = Path(csv_download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff") and resource["registration_id"] in text
    with page.expect_download() as report_download:
        page.locator("#report-daily").click()
    report = json.loads(Path(report_download.value.path()).read_text(encoding="utf-8"))
    assert report["registrations"]["total"] >= 1
    expect(page.locator("#report")).to_contain_text("registrations")
    # And the day's audit trail comes as one CSV of every page (1,000 entries a request), each cell
    # safe in a spreadsheet
    from chalicelib.domain.staff import Principal, Role
    from chalicelib.services import staff

    desk = Principal(
        token_id="t_desk", role=Role.COUNTER, label='=HYPERLINK("x")', expires_at=datetime(2100, 1, 1, tzinfo=UTC)
    )
    for _ in range(1005):
        staff.audit(desk, "counter.register", 201, None)
    with page.expect_download() as audit_download:
        page.locator("#audit-log").click()
    rows = list(csv.reader(io.StringIO(Path(audit_download.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["at", "token_id", "role", "label", "action", "status", "target", "suppressed"]
    from_desk = [r for r in rows[1:] if r[1] == "t_desk"]
    assert len(from_desk) == 1005 and {r[3] for r in from_desk} == {'\'=HYPERLINK("x")'}


def test_screenshots_of_every_page_at_desktop_and_phone_widths(
    browser: Any, page: Any, stack: Stack, admin_token: str
) -> None:
    token, _ = stack.token("counter", "Counter 1")
    stack.register()
    views = {
        "public": lambda tab: tab.goto(f"{stack.url}/"),
        "public-en": lambda tab: (tab.goto(f"{stack.url}/"), tab.locator("#lang-switch").click()),
        "counter": lambda tab: (
            sign_in(tab, stack, token),
            fill_registration(tab, new_person()),
            tab.locator("#reg-submit").click(),
            tab.get_by_test_id("receipt-code").first.wait_for(),
        ),
        "admin": lambda tab: (
            tab.goto(f"{stack.url}/admin/"),
            tab.locator("#token").fill(admin_token),
            tab.locator("#token").press("Enter"),
            tab.locator("#channels [role=switch]").first.wait_for(),
        ),
    }
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, show in views.items():
            context = browser.new_context(viewport=size, locale="th-TH")  # fresh storage: Thai by default
            tab = context.new_page()
            show(tab)
            # Every field has a label a screen reader can read
            unlabelled = tab.evaluate(
                "[...document.querySelectorAll('input, select')].filter(e => e.labels.length === 0).map(e => e.id)"
            )
            assert unlabelled == []
            if size == PHONE:
                # Nothing is wider than the phone's screen
                assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            shoot(tab, f"{name}-{size_name}")
            if name == "counter":
                tab.emulate_media(media="print")
                shoot(tab, f"counter-slip-print-{size_name}")
            context.close()
